"""`gguf-tui run MODEL [PROMPT]`: one answer on stdout, for scripts and pipes.

Into a pipe or file the answer is written exactly as the model wrote it; on a terminal
its control characters are made visible (an escape sequence shows as `␛[31m`):
`commands/output.py`, the command line's one display boundary.
"""

from __future__ import annotations

import argparse
import sys

from gguf_tui.commands import common
from gguf_tui.commands.output import literal, say, write_data


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="answer one prompt and exit",
        description="Answer one prompt (from the argument or stdin) on stdout; "
        "timings go to stderr.",
    )
    p.add_argument(
        "model", metavar="MODEL", nargs="?", help="a .gguf file, or REPO:QUANT from Hugging Face"
    )
    p.add_argument("prompt", nargs="?", help="the prompt (read from stdin when left out)")
    p.add_argument("--raw", action="store_true", help="plain completion, no chat template")
    p.add_argument("--quiet", action="store_true", help="no timings on stderr")
    common.add_remote_option(p)
    common.add_backend_options(p)
    common.add_data_options(p)
    common.add_generation_options(p)


def run(args: argparse.Namespace) -> int:
    from gguf_tui.engine import Failed, Finished, ReasoningDelta, TextDelta

    ctx = common.open_context(args)
    endpoint = common.choose_server(args, ctx)
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if not prompt.strip():
        raise common.CliError("the prompt is empty (pass it as an argument or on stdin)")
    sampling = common.sampling(args, ctx.settings)
    engine, _ = common.make_backend(args, ctx, endpoint, None if args.quiet else sys.stderr)
    with engine:
        if args.raw:
            gen = engine.complete(prompt, sampling)
        else:
            messages = []
            if system := common.system_prompt(args, ctx.settings):
                messages.append({"role": "system", "content": system})
            messages.append({"role": "user", "content": prompt})
            gen = engine.chat(messages, sampling)
        try:
            for event in gen:
                if isinstance(event, TextDelta):
                    write_data(sys.stdout, event.text, flush=True)
                elif isinstance(event, ReasoningDelta) and args.verbose:
                    sys.stderr.write(literal(event.text))
                elif isinstance(event, Failed):
                    raise common.CliError(event.message)
                elif isinstance(event, Finished):
                    if event.text and not event.text.endswith("\n"):
                        sys.stdout.write("\n")
                    if not args.quiet:
                        say(f"[{event.stats.summary()} · {event.reason}]")
        except KeyboardInterrupt:
            gen.stop()
            gen.result(timeout=30)
            sys.stdout.write("\n")
            return 130
    return 0
