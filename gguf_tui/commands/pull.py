"""`gguf-tui pull REPO:QUANT | REPO/FILE_GLOB`: download a model, print its path.

The download runs in a worker thread so that Ctrl+C only sets the cancel flag: the
transfer stops within one chunk and huggingface_hub removes the partial file.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from gguf_tui.commands import common
from gguf_tui.commands.output import write_data
from gguf_tui.commands.progress import TerminalProgress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pull",
        help="download a model from Hugging Face",
        description="Download every file of one quantization (all shards of a split model) "
        "into the Hugging Face cache, or into --dir; print the path of the (first) file. "
        "A model already downloaded is not fetched again.",
    )
    p.add_argument(
        "spec",
        metavar="MODEL",
        help="REPO:QUANT (e.g. bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M) "
        "or REPO/FILE_GLOB (e.g. 'owner/name-GGUF/*Q4_K_M.gguf')",
    )
    p.add_argument("--dir", metavar="DIR", help="download into this folder instead of the cache")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_data_options(p)


def run(args: argparse.Namespace) -> int:
    from gguf_tui.models.hub.client import HubEnv
    from gguf_tui.models.hub.errors import DownloadCancelled, HubError
    from gguf_tui.models.resolve import HubSpec, parse_spec, resolve_hub_spec

    common.open_context(args)
    spec = parse_spec(args.spec)
    if not isinstance(spec, HubSpec):
        raise common.CliError(
            f"'{args.spec}' is not a Hub model: use REPO:QUANT or REPO/FILE_GLOB "
            "(gguf-tui list REPO shows a repository's quantizations)"
        )
    env = HubEnv.from_environ()
    bar = TerminalProgress(sys.stderr, quiet=args.quiet)
    cancel = threading.Event()
    finished = threading.Event()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["path"] = resolve_hub_spec(
                spec,
                progress=bar,
                cancel=cancel,
                local_dir=Path(args.dir).expanduser() if args.dir else None,
                env=env,
            )
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
        finally:
            finished.set()

    # Wait on an Event, not Thread.join: on Python 3.11 a Ctrl+C that interrupts join()
    # leaves the thread looking finished while it still runs (measured), and the process
    # would exit before huggingface_hub removed its partial file.
    threading.Thread(target=work, name="pull", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        finished.wait(env.timeout + 5)
        bar.finish()
        print("gguf-tui: download cancelled", file=sys.stderr)
        return 130
    bar.finish()
    error = outcome.get("error")
    if isinstance(error, DownloadCancelled):
        print("gguf-tui: download cancelled", file=sys.stderr)
        return 130
    if isinstance(error, HubError):
        raise common.CliError(str(error))
    if isinstance(error, KeyboardInterrupt | SystemExit):
        raise error
    if isinstance(error, BaseException):  # never a traceback: say what broke
        raise common.CliError(f"the download failed ({type(error).__name__}: {error})")
    write_data(sys.stdout, f"{outcome['path']}\n")  # exact into $(…), inert on a terminal
    return 0
