"""Command line: `gguf-tui [MODEL]` opens the app; verbs run without it.

Kept import-light: `--help` and `--version` must not load llama.cpp, Textual
or numpy, so every command module imports its heavy parts inside `run`.
"""

from __future__ import annotations

import argparse
import contextlib
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
    "quality": "gguf_tui.commands.quality",
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
    """Every way out is an exit status and at most one line on stderr, never a traceback:
    a closed stdout (`>&-`), a full disk under a redirect (`export > /dev/full`), a reader
    that went away (`| head`), input that is not UTF-8 in a strict UTF-8 locale."""
    from gguf_tui.commands import output

    closed = output.reopen_closed_fds()
    argv = list(sys.argv[1:] if argv is None else argv)
    saved = sys.stdout
    stdin_errors = getattr(sys.stdin, "errors", None)
    if sys.stdout is not None and argv and argv[0] in COMMANDS:  # not the app: Textual's own
        sys.stdout = output.GuardedOutput(sys.stdout)
    if stdin_errors not in (None, "strict"):  # a C.UTF-8 locale reads stdin with
        with contextlib.suppress(AttributeError, ValueError, OSError):  # surrogateescape:
            _reconfigure_stdin("strict")  # bytes that are not UTF-8 are an error
    try:
        if 1 in closed:
            raise common.CliError(
                "stdout is closed: there is nowhere to write (redirect it to a file "
                "or to /dev/null instead of closing it)"
            )
        rc = _main(argv)
        if sys.stdout is not None:
            sys.stdout.flush()  # here, not at shutdown, where a failure is a traceback
        return rc
    except common.CliError as exc:
        # A message may quote a server's body or a file's name: shown, never obeyed,
        # wherever stderr goes (a log is read in a terminal later).
        output.say(f"gguf-tui: error: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `gguf-tui export --all | head`: the reader has what it wanted
        output.drop_stdout()
        return 0
    except output.OutputError as exc:
        output.drop_stdout()
        output.say(f"gguf-tui: error: {exc}")
        return 1
    except UnicodeDecodeError as exc:  # stdin in a strict UTF-8 locale (LC_ALL=C.UTF-8)
        output.say(f"gguf-tui: error: {output.not_utf8(exc)}")
        return 2
    finally:
        if isinstance(sys.stdout, output.GuardedOutput):
            sys.stdout = saved
        if stdin_errors not in (None, "strict"):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                _reconfigure_stdin(stdin_errors)


def _reconfigure_stdin(errors: str) -> None:
    """Set stdin's decoding errors, where stdin is a stream that can be (a TextIOWrapper;
    not None, nor a test's stand-in)."""
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors=errors)


def _main(argv: list[str]) -> int:
    if argv and argv[0] in COMMANDS:
        args = build_parser().parse_args(argv)
        check_numbers(args)
        return command(args.command).run(args)
    if argv and argv[0] in ("-h", "--help"):
        build_parser().print_help()
        print("\nRun without a command to open the app; gguf-tui --app-help lists its options.")
        return 0
    if argv and argv[0] == "--app-help":
        build_app_parser().print_help()
        return 0
    args = build_app_parser().parse_args(argv)
    check_numbers(args)
    from gguf_tui.commands.app import run_app

    return run_app(args)


# option -> the config.toml key whose range it shares (gguf_tui.config.settings.check_number)
_NUMBER_OPTIONS = {
    "n_ctx": "n_ctx",
    "n_gpu_layers": "n_gpu_layers",
    "threads": "threads",
    "n_batch": "n_batch",
    "n_ubatch": "n_ubatch",
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repeat_penalty": "repeat_penalty",
}

_FLAGS = {"n_batch": "--batch-size", "n_ubatch": "--ubatch-size"}  # llama.cpp's names


def check_numbers(args: argparse.Namespace) -> None:
    """`--temperature nan`, `--top-p inf`, `--threads -4`: refused by name, as in config.toml.
    A prompt or system prompt of bytes that are not UTF-8 (argv decodes them to surrogates)
    is refused too: no model can be given it."""
    from gguf_tui.config.settings import check_number

    for attr, what in (("prompt", "the prompt"), ("system", "--system")):
        value = getattr(args, attr, None)
        if isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value):
            raise common.CliError(f"{what} is not UTF-8 text")

    for attr, key in _NUMBER_OPTIONS.items():
        value = getattr(args, attr, None)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue  # not given, or another command's option of that name
        try:
            check_number(key, value)
        except ValueError as exc:
            option = _FLAGS.get(attr) or "--" + attr.replace("_", "-")
            raise common.CliError(f"{option}: {exc}".replace(f"'{key}' ", "", 1)) from None
