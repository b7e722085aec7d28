"""The handle of one reply: the engine thread writes events, any thread reads them.

Events go into a lock-protected list. A UI drains it at its own pace (the TUI
does so ~30 times a second) rather than being called once per token, which
would make generation wait on the UI; the line chat simply blocks on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from gguf_tui.engine.events import Event, Failed, Finished, ReasoningDelta, TextDelta


def _coalesce(events: list[Event]) -> list[Event]:
    """Merge runs of deltas of the same kind into one."""
    out: list[Event] = []
    for ev in events:
        last = out[-1] if out else None
        if isinstance(ev, TextDelta | ReasoningDelta) and type(last) is type(ev):
            assert isinstance(last, TextDelta | ReasoningDelta)
            out[-1] = type(ev)(last.text + ev.text)
        else:
            out.append(ev)
    return out


class Generation:
    """One reply in progress. `stop()` may be called from any thread at any time."""

    def __init__(self) -> None:
        # When the reply was asked for: time to first token counts from here, so a
        # load or a prefill it waited behind is part of it (see JobThread.waited).
        self.requested_at = time.perf_counter()
        self.waited_seconds = 0.0  # queued behind other jobs, set when it starts
        self.waited_for = ""  # what took most of that wait ("loading the model" …)
        # The context this reply fills so far (prompt + tokens written), kept by the
        # engine thread as it goes: a front end can show it while the reply streams.
        self.context_used = 0
        self._cond = threading.Condition()
        self._pending: list[Event] = []
        self._outcome: Finished | Failed | None = None
        self._stop = threading.Event()

    # -- the engine thread's side ------------------------------------------------
    def emit(self, event: Event) -> None:
        with self._cond:
            self._pending.append(event)
            if isinstance(event, Finished | Failed):
                self._outcome = event
            self._cond.notify_all()

    # -- the reader's side -----------------------------------------------------------
    def stop(self) -> None:
        """Ask for the reply to end; it ends with reason `stopped` and keeps its text."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def done(self) -> bool:
        return self._outcome is not None

    @property
    def outcome(self) -> Finished | Failed | None:
        return self._outcome

    def drain(self) -> list[Event]:
        """Every event since the last drain, deltas merged; never blocks."""
        with self._cond:
            events, self._pending = self._pending, []
        return _coalesce(events)

    def wait(self, timeout: float | None = None) -> list[Event]:
        """Block until there is something to read (or the timeout passes)."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._outcome is not None, timeout)
            events, self._pending = self._pending, []
        return _coalesce(events)

    def __iter__(self) -> Iterator[Event]:
        """Every event up to and including the final Finished or Failed."""
        while True:
            for event in self.wait():
                yield event
                if isinstance(event, Finished | Failed):
                    return

    def result(self, timeout: float | None = None) -> Finished | Failed:
        """Wait for the end of the reply (events are left for drain/iteration)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._outcome is not None, timeout):
                raise TimeoutError("the reply did not finish in time")
            assert self._outcome is not None
            return self._outcome
