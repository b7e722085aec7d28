"""Command line: `gguf-tui [MODEL]` opens the app; verbs run without it.

Kept import-light: `--help` and `--version` must not load llama.cpp, Textual
or numpy, so every command module imports its heavy parts inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from gguf_tui import __version__
from gguf_tui.commands import common

# verb -> module with `add_parser(subparsers)` and `run(args) -> int` (light at import).
COMMANDS = {
    "run": "gguf_tui.commands.run",
    "chat": "gguf_tui.commands.chat",
    "list": "gguf_tui.commands.list",
    "pull": "gguf_tui.commands.pull",
    "export": "gguf_tui.commands.export",
    "bench": "gguf_tui.commands.bench",
}


def command(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gguf-tui",
        description="Chat with local quantized GGUF models (llama.cpp) in the terminal. "
        "Without a command, opens the full-screen app.",
    )
    parser.add_argument("--version", action="version", version=f"gguf-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        command(name).add_parser(sub)
    return parser


def build_app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gguf-tui",
        description="Open the full-screen chat app. Commands: "
        + ", ".join(COMMANDS)
        + " (see gguf-tui COMMAND --help).",
    )
    parser.add_argument("--version", action="version", version=f"gguf-tui {__version__}")
    parser.add_argument(
        "model", metavar="MODEL", nargs="?", help="a .gguf file or REPO:QUANT to load"
    )
    parser.add_argument(
        "--quant",
        metavar="QUANT",
        help="start on this quantization of MODEL (or of the last model), e.g. Q8_0",
    )
    parser.add_argument(
        "--import",
        dest="import_file",
        metavar="FILE",
        help="import a chat.py history or JSON export and open it",
    )
    common.add_backend_options(parser)
    common.add_data_options(parser)
    common.add_generation_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            args = build_parser().parse_args(argv)
            return command(args.command).run(args)
        if argv and argv[0] in ("-h", "--help"):
            build_parser().print_help()
            print("\nRun without a command to open the app; gguf-tui --app-help lists its options.")
            return 0
        if argv and argv[0] == "--app-help":
            build_app_parser().print_help()
            return 0
        args = build_app_parser().parse_args(argv)
        from gguf_tui.commands.app import run_app

        return run_app(args)
    except common.CliError as exc:
        from gguf_tui.commands.output import say

        # A message may quote a server's body or a file's name: shown, never obeyed,
        # wherever stderr goes (a log is read in a terminal later).
        say(f"gguf-tui: error: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
