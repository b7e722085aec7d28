"""The embedded engine: llama.cpp on a thread of its own.

Front ends call these methods from any thread; each becomes a job on the engine
thread (jobs.py), the only thread that ever touches a `Llama`. llama.cpp releases
the GIL while it computes, so the UI thread stays responsive meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from pathlib import Path

from gguf_tui.engine.backend import Message
from gguf_tui.engine.generation import Generation
from gguf_tui.engine.lifecycle import ThreadedBackend
from gguf_tui.engine.local.kv_states import ConversationStates
from gguf_tui.engine.local.llama_model import LlamaModel, ProgressFn
from gguf_tui.engine.model_info import EngineError, ModelInfo
from gguf_tui.engine.options import LoadOptions, Sampling, with_profile

log = logging.getLogger(__name__)


class Engine(ThreadedBackend):
    """Load a model, stream replies, stop them, close. Thread-safe."""

    def __init__(self) -> None:
        super().__init__("gguf-tui-engine", "the engine has been closed")
        self._model: LlamaModel | None = None  # engine thread only
        self._states = ConversationStates()  # engine thread only
        self._loaded: tuple[Path, LoadOptions] | None = None  # to restore after a failed load

    # -- public API (lifecycle.ThreadedBackend has info, stop, close) ------------------------
    def load(
        self,
        path: str | Path,
        options: LoadOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> Future[ModelInfo]:
        """Replace the loaded model. The old one is closed first, so its memory is
        free before the new one is read. `progress(fraction)` may return False to
        cancel; the future then fails with LoadCancelled. A load that fails or is
        cancelled puts the previous model back, so a bad choice never leaves you
        without one. The model's own profile among `options.profiles` (config.toml's
        [models."NAME"]) is applied here, so every load of it and every switch between
        its quantizations gets it, whoever asks for the load."""
        return self._replace(
            lambda: self._load(Path(path), options or LoadOptions(), progress), "loading the model"
        )

    def chat(
        self,
        messages: list[Message],
        sampling: Sampling | None = None,
        cache_key: Hashable | None = None,
    ) -> Generation:
        """Answer the conversation; the reply streams into the returned Generation.

        `cache_key` names the conversation (its id): its KV cache is kept when another
        conversation is answered, so coming back to it re-reads only the new turn.
        """
        msgs = self._plain(messages)

        def run(model: LlamaModel, gen: Generation, s: Sampling) -> None:
            self._states.switch(model.llm, cache_key)
            model.run_chat(gen, msgs, with_profile(s, model.info.path or model.info.model_id))

        return self._generate(run, sampling)

    def complete(self, prompt: str, sampling: Sampling | None = None) -> Generation:
        """Plain text completion, no chat template (the seed's `llm("Hello")`)."""

        def run(model: LlamaModel, gen: Generation, s: Sampling) -> None:
            self._states.switch(model.llm, None)
            model.run_completion(
                gen, prompt, with_profile(s, model.info.path or model.info.model_id)
            )

        return self._generate(run, sampling)

    def prefill(self, messages: list[Message], cache_key: Hashable | None = None) -> Future[int]:
        """Read a conversation into the KV cache ahead of the next reply."""

        def job() -> int:
            model = self._require_model()
            self._states.switch(model.llm, cache_key)
            tokens, _ = model.tokenize_chat(messages)
            return model.prefill(tokens) if len(tokens) < model.info.n_ctx else 0

        return self._submit(job, "reading the conversation into the model")

    def count_tokens(self, messages: list[Message]) -> Future[int]:
        return self._submit(lambda: len(self._require_model().tokenize_chat(messages)[0]))

    def forget(self, cache_key: Hashable) -> None:
        """The conversation is gone (deleted): free the KV cache kept for it."""
        self._submit(lambda: self._states.forget(cache_key))

    # -- engine thread ---------------------------------------------------------------------
    def _require_model(self) -> LlamaModel:
        if self._model is None:
            raise EngineError("no model is loaded")
        return self._model

    def _load(self, path: Path, options: LoadOptions, progress: ProgressFn | None) -> ModelInfo:
        """Free the old model first (two never share memory); if the new one fails
        or is cancelled, read the old one back (quick: it is in the page cache)."""
        previous = self._loaded
        self._unload()
        try:
            self._model = LlamaModel.load(path, with_profile(options, path), progress)
        except EngineError:
            if previous is not None:
                try:
                    old_path, old_options = previous
                    self._model = LlamaModel.load(old_path, with_profile(old_options, old_path))
                    self._info, self._loaded = self._model.info, previous
                except EngineError:
                    log.exception("could not restore %s", previous[0])
            raise
        self._info = self._model.info
        self._loaded = (path, options)
        return self._info

    def _unload(self) -> None:
        self._loaded = None
        model, self._model, self._info = self._model, None, None
        self._states.clear()
        if model is not None:
            model.close()

    def _generate(
        self, run: Callable[[LlamaModel, Generation, Sampling], None], sampling: Sampling | None
    ) -> Generation:
        return self._answer(
            lambda gen, s: run(self._require_model(), gen, s), sampling, "generating"
        )
