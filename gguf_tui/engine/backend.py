"""What a front end needs from whatever answers: the local engine or a server.

`Engine` (llama.cpp in this process) and `RemoteEngine` (an OpenAI-compatible
server) both satisfy this protocol, so the TUI, the line chat and `run` are
written once against it. Every reply is a `Generation`: the one event stream.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from gguf_tui.engine.generation import Generation
from gguf_tui.engine.model_info import ModelInfo
from gguf_tui.engine.options import LoadOptions, Sampling

Message = dict[str, str]


class Backend(Protocol):
    """Load a model, stream replies, stop them, close. Every method is thread-safe."""

    @property
    def info(self) -> ModelInfo | None:
        """The model in use, or None."""
        ...

    def load(
        self,
        model: str | Path,
        /,
        options: LoadOptions | None = None,
        progress: Callable[[float], bool] | None = None,
    ) -> Future[ModelInfo]:
        """A GGUF path for the local engine, a model id for a server."""
        ...

    def chat(
        self,
        messages: list[Message],
        sampling: Sampling | None = None,
        cache_key: Hashable | None = None,  # the conversation, for a per-conversation cache
    ) -> Generation: ...

    def complete(self, prompt: str, sampling: Sampling | None = None) -> Generation: ...

    def prefill(
        self, messages: list[Message], cache_key: Hashable | None = None
    ) -> Future[int]: ...

    def count_tokens(self, messages: list[Message]) -> Future[int]: ...

    def forget(self, cache_key: Hashable) -> None: ...

    def stop(self) -> None: ...

    def close(self, timeout: float = 30.0) -> None: ...

    def __enter__(self) -> Backend: ...

    def __exit__(self, *exc: object) -> None: ...
