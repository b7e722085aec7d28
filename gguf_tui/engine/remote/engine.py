"""A model on an OpenAI-compatible server, behind the same surface as `Engine`.

One worker thread runs the requests in order and writes each answer into a
`Generation`, just as the engine thread does for a local model, so the TUI,
the line chat and `run` consume one event stream whichever backend answers.
There is nothing to load: `load()` checks that the server is there and serves
the model, and prefilling is the server's business (llama-server and
llama_cpp.server cache the prompt prefix themselves).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from gguf_tui.engine.backend import Message
from gguf_tui.engine.generation import Generation
from gguf_tui.engine.lifecycle import ThreadedBackend
from gguf_tui.engine.model_info import EngineError, ModelInfo
from gguf_tui.engine.options import LoadOptions, Sampling
from gguf_tui.engine.remote.endpoint import Endpoint
from gguf_tui.engine.remote.errors import RemoteError
from gguf_tui.engine.remote.models import (
    RemoteModel,
    list_remote_models,
    open_client,
    pick_model,
    remote_model_info,
)
from gguf_tui.engine.remote.stream import request_body, stream_reply

log = logging.getLogger(__name__)
CHARS_PER_TOKEN = 4  # a rough count: servers have no common tokenize endpoint


def estimate_tokens(messages: list[Message]) -> int:
    """About how many tokens a conversation takes (4 characters a token, plus each
    message's role markers): enough for the status line's context gauge."""
    return sum(len(m.get("content", "")) // CHARS_PER_TOKEN + 4 for m in messages)


class RemoteEngine(ThreadedBackend):
    """Chat with a model on a server. Thread-safe, like `Engine`."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        # Reads are bounded by the stream guard; this is only a backstop.
        backstop = max(endpoint.first_byte_timeout, endpoint.chunk_timeout) + 30.0
        self._client = open_client(endpoint, read_timeout=backstop)  # before a thread exists
        super().__init__("gguf-tui-remote", "the connection has been closed")
        self._model_id = ""
        self._closing = threading.Event()  # cuts a model list in flight at once

    # -- public API (the same as Engine's; lifecycle.ThreadedBackend has info and stop) ------
    def load(
        self,
        model: str | Path | None = None,
        options: LoadOptions | None = None,
        progress: Callable[[float], bool] | None = None,
    ) -> Future[ModelInfo]:
        """Check the server and choose its model (`model`, else the endpoint's, else the
        only one served). Fails with RemoteError when it cannot be used."""
        wanted = str(model) if model else self.endpoint.model
        return self._replace(lambda: self._load(wanted, progress))

    def chat(
        self,
        messages: list[Message],
        sampling: Sampling | None = None,
        cache_key: Hashable | None = None,
    ) -> Generation:
        """`cache_key` is not sent: a server keeps its own prompt cache (its slots)."""
        return self._generate("chat/completions", {"messages": self._plain(messages)}, sampling)

    def complete(self, prompt: str, sampling: Sampling | None = None) -> Generation:
        """Plain completion (`/v1/completions`): no chat template."""
        return self._generate("completions", {"prompt": prompt}, sampling)

    def prefill(self, messages: list[Message], cache_key: Hashable | None = None) -> Future[int]:
        """Nothing to do ahead of time: the server caches the prompt when it answers."""
        future: Future[int] = Future()
        future.set_result(0)
        return future

    def forget(self, cache_key: Hashable) -> None:
        """Nothing is kept here per conversation: the server owns its prompt cache."""

    def count_tokens(self, messages: list[Message]) -> Future[int]:
        """An estimate (see `estimate_tokens`); the real count arrives with each answer."""
        future: Future[int] = Future()
        if self._info is None:
            future.set_exception(EngineError("no model is chosen"))
        else:
            future.set_result(estimate_tokens(messages))
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Stop, end the worker thread and close the connections. Safe to call twice.
        Nothing here waits on the network: the request in flight (an answer or the
        model list) has its connection shut at once, so the worker ends within
        about guard.POLL_SECONDS."""
        self._closing.set()
        super().close(timeout)

    # -- the worker thread ------------------------------------------------------------------
    def _load(self, wanted: str, progress: Callable[[float], bool] | None) -> ModelInfo:
        started = time.perf_counter()
        self._unload()
        notes: tuple[str, ...] = ()
        try:
            models = list_remote_models(self.endpoint, self._client, self._closing.is_set)
        except RemoteError as exc:
            if exc.status not in (404, 405) or not wanted:
                raise
            # Some proxies serve chat but no model list: trust the name given.
            models = [RemoteModel(self.endpoint, wanted)]
            notes = (f"{self.endpoint.label} does not list its models; using '{wanted}' as given",)
        chosen = pick_model(self.endpoint, models, wanted)
        if progress is not None:
            progress(1.0)
        self._model_id = chosen.id
        self._info = remote_model_info(chosen, time.perf_counter() - started, notes)
        log.info("using %s on %s", chosen.id, self.endpoint.url)
        return self._info

    def _unload(self) -> None:
        self._info = None
        self._model_id = ""

    def _release(self) -> None:
        self._client.close()

    def _generate(
        self,
        path: str,
        payload: dict[str, Any],
        sampling: Sampling | None,
    ) -> Generation:
        def run(gen: Generation, chosen: Sampling) -> None:
            if self._info is None:
                raise EngineError("no model is chosen")
            body = request_body(self.endpoint, self._model_id, chosen, **payload)
            stream_reply(self._client, self.endpoint, path, body, gen)

        return self._answer(run, sampling, "talking to the server")
