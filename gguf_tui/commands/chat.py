"""`gguf-tui chat`: the line chat of the classic `chat.py`, on the shared engine.

Keeps every behaviour of the script: `user: ` / `assistant: ` turns, history
files (`-i`, `-o`, `-io`), `exit`/`quit`/`bye` or Ctrl+D to leave and save.
Ctrl+C stops the answer being written; at the prompt, a second Ctrl+C leaves.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TextIO

from gguf_tui.commands import common

EXIT_WORDS = {"exit", "quit", "bye"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chat",
        help="chat line by line in the terminal",
        description="Chat line by line (the classic chat.py). "
        "Type exit, quit or bye (or press Ctrl+D) to leave.",
    )
    p.add_argument(
        "model", metavar="MODEL", nargs="?", help="a .gguf file, or REPO:QUANT from Hugging Face"
    )
    p.add_argument("-i", "--input", metavar="FILE", help="start from this history file")
    p.add_argument("-o", "--output", metavar="FILE", help="save the history to this file")
    p.add_argument("-io", metavar="FILE", dest="io", help="read and save the same history file")
    p.add_argument("--no-stream", action="store_true", help="print each answer when it is complete")
    common.add_remote_option(p)
    common.add_backend_options(p)
    common.add_data_options(p)
    common.add_generation_options(p)


class LineChat:
    """The conversation loop, with its input and output streams injectable for tests."""

    def __init__(
        self,
        engine,
        sampling,
        messages,
        output: str | None,
        stream: bool = True,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
        show_stats: bool = False,
    ) -> None:
        self.engine = engine
        self.sampling = sampling
        self.messages = messages
        self.output = output
        self.stream = stream
        self.out = out
        self.err = err
        self.show_stats = show_stats
        self._told_trimmed = False

    def loop(self, read=input) -> None:
        interrupted = False
        while True:
            try:
                line = read("user: ")
            except EOFError:
                self.out.write("\n")
                break
            except KeyboardInterrupt:
                if interrupted:
                    self.out.write("\n")
                    break
                interrupted = True
                self.out.write("\n(press Ctrl+C again, or type exit, to leave)\n")
                continue
            interrupted = False
            if line.strip().lower() in EXIT_WORDS:
                break
            if not line.strip():
                continue
            self.turn(line)
            self.save()
        self.save()

    def turn(self, text: str) -> None:
        from gguf_tui.engine import ContextTrimmed, Failed, Finished, ReasoningDelta, TextDelta

        self.messages.append({"role": "user", "content": text})
        self.out.write("assistant: ")
        self.out.flush()
        gen = self.engine.chat(self.messages, self.sampling)
        outcome = None
        while outcome is None:
            try:
                for event in gen:
                    if isinstance(event, TextDelta) and self.stream:
                        self.out.write(event.text)
                        self.out.flush()
                    elif isinstance(event, ReasoningDelta) and self.show_stats:
                        self.err.write(event.text)
                    elif isinstance(event, ContextTrimmed) and not self._told_trimmed:
                        self._told_trimmed = True
                        print(
                            f"\n(the oldest {event.dropped_messages} messages no longer fit the "
                            f"context window and are left out of what the model sees)",
                            file=self.err,
                        )
                    elif isinstance(event, Finished | Failed):
                        outcome = event
            except KeyboardInterrupt:
                gen.stop()
        if isinstance(outcome, Failed):
            if outcome.text:  # cut off mid-answer (a server went away): keep what came
                if not self.stream:
                    self.out.write(outcome.text)
                self.out.write(" [cut off]")
                self.messages.append({"role": "assistant", "content": outcome.text})
            else:
                self.messages.pop()  # it was never answered; do not keep it in the history
            self.out.write("\n")
            print(f"gguf-tui: error: {outcome.message}", file=self.err)
            return
        if not self.stream:
            self.out.write(outcome.text)
        suffix = {"stopped": " [stopped]", "context": " [stopped: context full]"}.get(
            outcome.reason, ""
        )
        self.out.write(suffix + "\n")
        self.out.flush()
        self.messages.append({"role": "assistant", "content": outcome.text})
        if self.show_stats:
            print(f"[{outcome.stats.summary()}]", file=self.err)

    def save(self) -> None:
        if self.output:
            from gguf_tui.store.history import save_history

            try:
                save_history(self.output, self.messages)
            except OSError as exc:
                print(
                    f"gguf-tui: error: cannot save {self.output}: {exc.strerror or exc}",
                    file=self.err,
                )


def run(args: argparse.Namespace) -> int:
    from gguf_tui.store.history import HistoryError, load_history

    ctx = common.open_context(args)
    source = args.io or args.input
    output = args.io or args.output
    messages: list[dict[str, str]] = []
    if source:
        try:
            messages = load_history(source)
        except HistoryError as exc:
            raise common.CliError(str(exc)) from None
    system = common.system_prompt(args, ctx.settings)
    if system:
        messages = [m for m in messages if m["role"] != "system"]
        messages.insert(0, {"role": "system", "content": system})
    endpoint = common.choose_server(args, ctx)
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    engine, info = common.make_backend(args, ctx, endpoint, sys.stderr)
    with engine:
        where = f" on {info.server}" if info.server else ""
        window = f" · context {info.n_ctx}" if info.n_ctx else ""
        print(f"{info.label}{where}{window} · type exit, quit or bye to leave", file=sys.stderr)
        if source:
            print(f"(continuing {len(messages)} messages from {source})", file=sys.stderr)
        chat = LineChat(
            engine,
            common.sampling(args, ctx.settings),
            messages,
            output,
            stream=not args.no_stream,
            show_stats=args.verbose,
        )
        chat.loop()
    return 0
