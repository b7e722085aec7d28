"""What the command line writes: the one boundary for text from outside (docs/cli.md).

Two kinds of output, one rule each:

- `write_data(stream, text)`: what a command is asked for (an answer of `run`/`chat`, an
  export, `pull`'s path). On a terminal its control characters are made visible
  (`literal`: an escape sequence shows as `␛[31m`), so a model or a file name cannot
  retitle the terminal, write its clipboard or type into the shell; into a pipe or a
  file it is written byte-exact, as UTF-8.
- `say(text)` and `literal(...)` inside a `print`: messages, listings and diagnostics
  (`gguf-tui: error: …`, warnings, the `chat` banner, the tables of `list`) are for
  people wherever they go (a log read later in a terminal): always `literal`.

tests/test_display_boundary.py fails on a print or a write in gguf_tui/commands/ and
cli.py whose text does not pass one of these.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, BinaryIO, TextIO

from gguf_tui.tui.text import literal

__all__ = ["for_terminal", "is_terminal", "literal", "say", "write_data"]


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def for_terminal(stream: TextIO) -> Callable[[str], str]:
    """Text for `stream`: control characters made visible on a terminal, else as is."""
    return literal if is_terminal(stream) else str


def write_data(stream: TextIO, text: str, flush: bool = False) -> None:
    """Text from outside as a command's output: inert on a terminal, exact elsewhere."""
    if is_terminal(stream):
        stream.write(literal(text))
    else:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a StringIO (tests): the text itself
            stream.write(text)
        else:  # UTF-8 whatever the locale; a file name's undecodable bytes as they were
            stream.flush()
            try:
                data = text.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:  # a lone surrogate from a server's JSON
                data = text.encode("utf-8", "replace")
            buffer.write(data)
    if flush:
        stream.flush()


def say(*parts: object, file: TextIO | None = None, flush: bool = False) -> None:
    """A message line for people (stderr by default): always `literal`."""
    print(literal(" ".join(str(p) for p in parts)), file=file or sys.stderr, flush=flush)


def not_utf8(exc: UnicodeDecodeError) -> str:
    """The message for input that is not UTF-8 (a strict UTF-8 locale reads stdin strictly)."""
    byte = exc.object[exc.start : exc.start + 1].hex()
    return f"the input is not UTF-8 text (byte 0x{byte} at {exc.start})"


# -- stdout that fails: a full disk, a closed descriptor -------------------------------------


class OutputError(Exception):
    """stdout could not be written (a full disk, an I/O error): the command ends with exit 1."""


def _guarded(call: Callable, *args: object) -> object:
    try:
        return call(*args)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None


class GuardedOutput:
    """sys.stdout for a command, whose write failures are OutputError: one line and exit 1
    in cli.main, however deep in a command the write was (a `print`, write_data)."""

    def __init__(self, stream: TextIO | BinaryIO) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)

    def write(self, text: str) -> object:
        return _guarded(self._stream.write, text)

    def writelines(self, lines) -> object:
        return _guarded(self._stream.writelines, lines)

    def flush(self) -> object:
        return _guarded(self._stream.flush)

    @property
    def buffer(self) -> GuardedOutput:
        stream: Any = self._stream  # text: its bytes beneath; binary: none (AttributeError)
        return GuardedOutput(stream.buffer)


def drop_stdout() -> None:
    """After stdout failed: point it at /dev/null, so the interpreter's last flush of what is
    still buffered succeeds instead of printing "Exception ignored …" at exit."""
    import os

    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def reopen_closed_fds() -> set[int]:
    """Give a closed stdin, stdout or stderr (`>&-`, `2>&-`) /dev/null, and return which were
    closed: otherwise the next file opened (the log, the database) would get descriptor 1
    or 2, and whatever is printed would be written into it."""
    import os

    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
    for fd in sorted(closed):
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    if 2 in closed and sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the process's own stderr)
    return closed
