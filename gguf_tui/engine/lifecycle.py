"""The life of a backend, written once: a model chosen, replies answered, closed.

`Engine` (llama.cpp here) and `RemoteEngine` (a server) differ in what loading
and answering mean, not in how calls reach them: each call is a job on one
`JobThread`, a new load or reply first stops the one in progress, and closing
unloads and ends the thread exactly once. That shared part lives here; what
differs (`_unload`, and the jobs each queues) lives in the subclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from typing import Self, TypeVar

from gguf_tui.engine.backend import Message
from gguf_tui.engine.generation import Generation
from gguf_tui.engine.jobs import JobThread
from gguf_tui.engine.model_info import ModelInfo
from gguf_tui.engine.options import Sampling

T = TypeVar("T")


class ThreadedBackend(ABC):
    """A `Backend` whose every call runs as a job on its own worker thread."""

    def __init__(self, thread_name: str, closed_message: str) -> None:
        self._info: ModelInfo | None = None  # set and cleared by jobs only
        self._jobs = JobThread(thread_name, closed_message)

    @property
    def info(self) -> ModelInfo | None:
        """The model in use, or None."""
        return self._info

    def stop(self) -> None:
        """Stop the reply in progress, if any (its text so far is kept)."""
        self._jobs.stop()

    def close(self, timeout: float = 30.0) -> None:
        """Stop, unload and end the worker thread. Safe to call twice."""
        if self._jobs.close(self._unload, timeout):
            self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for the subclasses ----------------------------------------------------------------
    def _submit(self, fn: Callable[[], T], what: str = "") -> Future[T]:
        """Queue `fn`; `what` names it for a reply that has to wait behind it."""
        return self._jobs.submit(fn, what)

    def _replace(self, load: Callable[[], ModelInfo], what: str = "") -> Future[ModelInfo]:
        """Queue a load: the reply in progress is stopped first, so the load is not
        kept waiting behind an answer nobody will read."""
        self.stop()
        return self._jobs.submit(load, what)

    def _answer(
        self,
        run: Callable[[Generation, Sampling], None],
        sampling: Sampling | None,
        what: str,
    ) -> Generation:
        """Queue a reply (stopping the one in progress): `run(gen, sampling)` fills it,
        and any failure ends it with a Failed event (see `JobThread.generate`)."""
        chosen = sampling or Sampling()
        return self._jobs.generate(lambda gen: run(gen, chosen), what)

    @staticmethod
    def _plain(messages: list[Message]) -> list[Message]:
        """Only each message's role and content: what a model is sent, never the
        extra keys a caller's records carry."""
        return [{"role": m["role"], "content": m["content"]} for m in messages]

    @abstractmethod
    def _unload(self) -> None:
        """Forget the model (worker thread only); run by `close` as the last job."""

    def _release(self) -> None:  # noqa: B027 (a hook: the local engine holds nothing more)
        """Free what outlives the worker thread (a connection pool), once, after it ended."""
