"""One thread that runs a backend's jobs in order.

What makes a backend safe to call from any thread: every load, reply and close
is a job taken from one queue by one thread, so a load can never race a reply
and nothing reaches a model after it was closed. Both the embedded engine and
the server client are built on it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from gguf_tui.engine.events import Failed
from gguf_tui.engine.generation import Generation
from gguf_tui.engine.model_info import EngineError

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobThread:
    """Runs submitted callables in order on a daemon thread; tracks the reply in progress."""

    def __init__(self, name: str, closed_message: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future, str] | None] = (
            queue.SimpleQueue()
        )
        # (what it was, when it ended, seconds it took) of the last jobs run.
        self._recent: deque[tuple[str, float, float]] = deque(maxlen=16)
        self._closed_message = closed_message
        self._closed = False
        self.current: Generation | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], T], what: str = "") -> Future[T]:
        """Queue `fn`; `what` names it for a reply that has to wait behind it."""
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(EngineError(self._closed_message))
            return future
        self._jobs.put((fn, future, what))
        return future

    def waited(self, gen: Generation) -> None:
        """Record on `gen` how long it waited to start and for what: the job that took
        most of that time (a load, a prefill, the previous answer)."""
        asked = gen.requested_at
        gen.waited_seconds = max(0.0, time.perf_counter() - asked)
        ahead = [(min(secs, end - asked), what) for what, end, secs in self._recent if end > asked]
        gen.waited_for = max(ahead)[1] if ahead else ""

    def generate(self, run: Callable[[Generation], None], what: str = "generating") -> Generation:
        """Queue a reply: `run(gen)` fills the Generation; any failure becomes a Failed
        event, so whoever reads the reply always sees it end."""
        gen = Generation()
        self.stop()
        self.current = gen

        def job() -> None:
            self.waited(gen)
            try:
                if gen.stop_requested:
                    raise EngineError("stopped before it started")
                run(gen)
            except EngineError as exc:
                gen.emit(Failed(str(exc)))
            except Exception as exc:
                log.exception("%s failed", what)
                gen.emit(Failed(f"unexpected error while {what}: {exc}"))
            finally:
                if not gen.done:
                    gen.emit(Failed("the reply ended without a result"))
                if self.current is gen:
                    self.current = None

        future = self.submit(job, "writing the previous answer")
        if future.done() and future.exception() is not None:
            gen.emit(Failed(str(future.exception())))
        return gen

    def stop(self) -> None:
        """Stop the reply in progress, if any (its text so far is kept)."""
        current = self.current
        if current is not None:
            current.stop()

    def close(self, last: Callable[[], Any] | None = None, timeout: float = 30.0) -> bool:
        """Stop, run `last` (e.g. unload), end the thread. False if already closed."""
        if self._closed:
            return False
        self.stop()
        if last is not None:
            self.submit(last)
        self._closed = True
        self._jobs.put(None)
        self._thread.join(timeout)
        return True

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not None:
            fn, future, what = item
            if not future.set_running_or_notify_cancel():
                continue
            started = time.perf_counter()
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered to whoever waits on the future
                if not isinstance(exc, EngineError):
                    log.exception("job failed")
                future.set_exception(exc)
            finally:
                ended = time.perf_counter()
                self._recent.append((what, ended, ended - started))
