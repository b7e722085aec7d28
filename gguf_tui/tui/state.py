"""What the app publishes for its screens to observe: the load, and the answer in flight.

The app owns the engine, so it alone knows whether a model is loading and how far
it got; screens watch `app.load_state` (a reactive) instead of the app writing into
their widgets, and instead of parsing a status string to find out. The answer being
written belongs to the screen that writes it, but quitting, a load or a change of
engine must stop it and wait until it is saved: that screen registers it here, so
the app stops it without knowing which screen, or widget, that is.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

IDLE, LOADING, READY, FAILED = "idle", "loading", "ready", "failed"


@dataclass(frozen=True, slots=True)
class LoadState:
    """One load, as far as it got. `fraction` is llama.cpp's (tensor data only: with a
    mapped file it stays at 0 most of the load and jumps at the end); `message` says
    why a load failed or was cancelled."""

    phase: str = IDLE
    name: str = ""  # the file (or server model id) being loaded
    fraction: float = 0.0
    message: str = ""
    started: float = 0.0  # time.monotonic() when the load began
    server: bool = False  # a server's model: the server does the loading

    @property
    def loading(self) -> bool:
        return self.phase == LOADING

    def elapsed(self, clock: Callable[[], float] = time.monotonic) -> float:
        return clock() - self.started


Stop = Callable[[], Awaitable[None]]


class AnswerInFlight:
    """Whether an answer is being written, and how to stop it (saved) from anywhere."""

    def __init__(self) -> None:
        self._stop: Stop | None = None

    @property
    def writing(self) -> bool:
        return self._stop is not None

    def begin(self, stop: Stop) -> None:
        self._stop = stop

    def end(self, stop: Stop | None = None) -> None:
        if stop is None or stop == self._stop:
            self._stop = None

    async def stop(self) -> None:
        """Stop the answer being written, if any, and return once it is saved."""
        if self._stop is not None:
            await self._stop()
