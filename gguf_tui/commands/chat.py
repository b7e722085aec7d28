"""`gguf-tui chat`: the line chat of the classic `chat.py`, on the shared engine.

Keeps every behaviour of the script: `user: ` / `assistant: ` turns, history
files (`-i`, `-o`, `-io`; `-io` with a new file starts fresh and creates it),
`exit`/`quit`/`bye` or Ctrl+D to leave and save. Ctrl+C stops the answer being
written; at the prompt, a second Ctrl+C leaves.

In a terminal, keys typed while a model loads or an answer is written are not
echoed into it: they wait, unechoed, and appear at the next `user: ` prompt.
Answers shown on a terminal have their control characters made visible
(`gguf_tui.tui.text.literal`), so a model cannot clear the screen or retitle it; into a
pipe they are written byte-exact. Messages and the banner are always made visible
(commands/output.py).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from gguf_tui.commands import common
from gguf_tui.commands.output import for_terminal, literal, not_utf8, say, write_data

__all__ = ["EXIT_WORDS", "Keys", "LineChat", "for_terminal", "run"]

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
    p.add_argument(
        "-io",
        metavar="FILE",
        dest="io",
        help="read and save the same history file (a new one is created)",
    )
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
        keys: Keys | None = None,
    ) -> None:
        self.engine = engine
        self.sampling = sampling
        self.messages = messages
        self.output = output
        self.stream = stream
        self.out = out
        self.err = err
        self.show_stats = show_stats
        self.keys = keys or Keys(None)
        self._told_trimmed = False
        self._saved = -1  # how many messages the history file holds (-1: not written yet)
        self.save_error: str | None = None  # the last save's failure, said once
        self.exit_code = 0

    def loop(self, read=input) -> None:
        """Chat until the user leaves; the history is saved however the loop ends (a stdout
        that fails mid-answer, `chat > /dev/full`, must not lose the conversation)."""
        try:
            self._loop(read)
        finally:
            self.save()

    def _loop(self, read) -> None:
        interrupted = False
        while True:
            try:
                with self.keys.echoing():
                    line = read("user: ")
            except EOFError:
                self.out.write("\n")
                break
            except UnicodeDecodeError as exc:  # stdin is read strictly (cli.main)
                self.out.write("\n")
                say(f"gguf-tui: error: {not_utf8(exc)}", file=self.err)
                self.exit_code = 2
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
                        write_data(self.out, event.text, flush=True)
                    elif isinstance(event, ReasoningDelta) and self.show_stats:
                        self.err.write(literal(event.text))
                    elif isinstance(event, ContextTrimmed) and not self._told_trimmed:
                        self._told_trimmed = True
                        say(
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
                    write_data(self.out, outcome.text)
                self.out.write(" [cut off]")
                self.messages.append({"role": "assistant", "content": outcome.text})
            else:
                self.messages.pop()  # it was never answered; do not keep it in the history
            self.out.write("\n")
            say(f"gguf-tui: error: {outcome.message}", file=self.err)
            return
        if not self.stream:
            write_data(self.out, outcome.text)
        suffix = {"stopped": " [stopped]", "context": " [stopped: context full]"}.get(
            outcome.reason, ""
        )
        self.out.write(literal(suffix) + "\n")
        self.out.flush()
        self.messages.append({"role": "assistant", "content": outcome.text})
        if self.show_stats:
            say(f"[{outcome.stats.summary()}]", file=self.err)

    def save(self) -> None:
        """Save the history after every answer and on leaving. A failure is said once (not
        after every answer) and makes the command exit 1; the next save tries again."""
        if not self.output or self._saved == len(self.messages):
            return
        from gguf_tui.store.files import FileError
        from gguf_tui.store.history import save_history

        try:
            save_history(self.output, self.messages)
        except (OSError, FileError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            message = f"gguf-tui: error: cannot save {self.output}: {reason}"
            if message != self.save_error:
                say(message, file=self.err)
            self.save_error = message
            return
        self._saved = len(self.messages)
        self.save_error = None


def run(args: argparse.Namespace) -> int:
    from gguf_tui.store.history import HistoryError, load_history

    ctx = common.open_context(args)
    source = args.io or args.input
    output = args.io or args.output
    if output:
        check_writable(output)
    messages: list[dict[str, str]] = []
    fresh = bool(args.io) and not Path(args.io).exists()  # -io FILE: chat.py starts it
    if source and not fresh:
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
    with Keys(sys.stdin) as keys:
        engine, info = common.make_backend(args, ctx, endpoint, sys.stderr)
        with engine:
            where = f" on {info.server}" if info.server else ""
            window = f" · context {info.n_ctx}" if info.n_ctx else ""
            say(f"{info.label}{where}{window} · type exit, quit or bye to leave")
            if fresh:
                say(f"(a new history: {source} is saved after every answer)")
            elif source:
                say(f"(continuing {len(messages)} messages from {source})")
            chat = LineChat(
                engine,
                common.sampling(args, ctx.settings),
                messages,
                output,
                stream=not args.no_stream,
                show_stats=args.verbose,
                keys=keys,
            )
            chat.loop()
    if chat.save_error:
        return 1
    return chat.exit_code


def check_writable(output: str) -> None:
    """Refuse, before a model loads, a history file that could never be saved: a folder, a
    device (`-o /dev/null` included: only a regular file is written, never replaced), a
    FIFO, or a place this user may not write (the conversation would be lost on leaving).
    A symlink is fine: the history is written to its target and the link stays."""
    from gguf_tui.store.files import FileError
    from gguf_tui.store.files import check_writable as check

    path = Path(output).expanduser()
    if path.is_dir():
        raise common.CliError(f"{output} is a folder, not a history file")
    try:
        check(path)
    except FileError as exc:
        raise common.CliError(str(exc)) from None
    except OSError as exc:
        raise common.CliError(f"cannot write {output}: {exc.strerror or exc}") from None


class Keys:
    """Keys typed at a terminal while the chat is busy (loading, answering) are not echoed
    where the answer is being written; they stay queued and show at the next prompt.

    `with Keys(sys.stdin) as keys:` turns the terminal's echo off (line editing, Ctrl+C
    and Ctrl+D keep working) until the block ends; `with keys.echoing():` turns it on
    around reading a line. Does nothing when stdin is not a terminal."""

    def __init__(self, stream: TextIO | None) -> None:
        self.fd: int | None = None
        self.saved: list | None = None
        self._old_term: Callable[[int, FrameType | None], Any] | int | None = None
        try:
            if stream is not None and stream.isatty():
                self.fd = stream.fileno()
        except (AttributeError, ValueError, OSError):
            self.fd = None

    def __enter__(self) -> Keys:
        if self.fd is None:
            return self
        try:
            import termios

            self.saved = termios.tcgetattr(self.fd)
        except (ImportError, OSError):
            self.fd = None
            return self
        with contextlib.suppress(ValueError):  # not the main thread: keep Python's default
            self._old_term = signal.signal(signal.SIGTERM, _exit_on_term)
        self._set_echo(False)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is None or self.saved is None:
            return
        import termios

        with contextlib.suppress(OSError):
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)

    @contextlib.contextmanager
    def echoing(self) -> Iterator[None]:
        self._set_echo(True)
        try:
            yield
        finally:
            self._set_echo(False)

    def _set_echo(self, on: bool) -> None:
        if self.fd is None or self.saved is None:
            return
        import termios

        try:
            attrs = termios.tcgetattr(self.fd)
            attrs[3] = attrs[3] | termios.ECHO if on else attrs[3] & ~termios.ECHO
            termios.tcsetattr(self.fd, termios.TCSANOW, attrs)  # never flush what was typed
        except OSError:
            pass


def _exit_on_term(signum, frame) -> None:
    sys.exit(128 + signum)  # unwinds, so the terminal gets its echo back
