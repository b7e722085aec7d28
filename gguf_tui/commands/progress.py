"""A download's progress on the command line: a bar on a terminal, a line now and then in a log.

Its own module because both `pull` and the model resolution every command shares
(`common.resolve_model`, which may download) draw it.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from gguf_tui.commands.output import literal

_BAR = 24


class TerminalProgress:
    """A one-line progress bar on a terminal; a line every few seconds elsewhere (logs, CI).

    Callable as a download `progress` callback; safe to call from a worker thread.
    """

    def __init__(self, stream: TextIO = sys.stderr, quiet: bool = False, every: float = 2.0):
        self.stream = stream
        self.quiet = quiet
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = every
        self.drawn = False
        self.ended = False  # the 100% line was written (a log gets it once)
        self.last_line = 0.0
        self.lock = threading.Lock()

    def __call__(self, done: int, total: int, speed: float, eta: float | None) -> None:
        if self.quiet:
            return
        from gguf_tui.models.units import format_bytes, format_duration

        share = done / total if total else 1.0
        filled = int(share * _BAR)
        line = (
            f"[{'#' * filled}{'-' * (_BAR - filled)}] {share:4.0%}  "
            f"{format_bytes(done)} / {format_bytes(total)}  "
            f"{format_bytes(speed)}/s  ETA {format_duration(eta)}"
        )
        with self.lock:
            now = time.monotonic()
            if self.tty:
                self.stream.write(f"\r{literal(line)}\x1b[K")
            elif not self.ended and (now - self.last_line >= self.every or done >= total):
                self.stream.write(literal(line) + "\n")
                self.last_line = now
                self.ended = done >= total
            else:
                return
            self.stream.flush()
            self.drawn = True

    def finish(self) -> None:
        with self.lock:
            if self.tty and self.drawn:
                self.stream.write("\n")
                self.stream.flush()
            self.drawn = False
