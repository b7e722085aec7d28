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
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future] | None] = queue.SimpleQueue()
        self._closed_message = closed_message
        self._closed = False
        self.current: Generation | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(EngineError(self._closed_message))
            return future
        self._jobs.put((fn, future))
        return future

    def generate(self, run: Callable[[Generation], None], what: str = "generating") -> Generation:
        """Queue a reply: `run(gen)` fills the Generation; any failure becomes a Failed
        event, so whoever reads the reply always sees it end."""
        gen = Generation()
        self.stop()
        self.current = gen

        def job() -> None:
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

        future = self.submit(job)
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
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # delivered to whoever waits on the future
                if not isinstance(exc, EngineError):
                    log.exception("job failed")
                future.set_exception(exc)
