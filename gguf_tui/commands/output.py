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
from typing import TextIO

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
