"""A stand-in engine for the UI's own unit tests: scripted replies, no llama.cpp.

It produces the same `Generation` event stream as the real engine (from its own
thread, token by token), so the UI code under test is the code users run. The
end-to-end tests use the real engine.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from pathlib import Path

from gguf_tui.engine import (
    STOP,
    STOPPED,
    Failed,
    Finished,
    Generation,
    GenerationStats,
    LoadOptions,
    ModelInfo,
    ReasoningDelta,
    Sampling,
    TextDelta,
)
from gguf_tui.engine.local.chat_format import TEMPLATE, ChatFormatChoice


def fake_info(name: str = "Fake-1B-Instruct-Q4_K_M.gguf", quant: str = "Q4_K_M") -> ModelInfo:
    return ModelInfo(
        model_id=name,
        path=Path("/models") / name,
        name=name.removesuffix(".gguf"),
        architecture="llama",
        quant=quant,
        n_params=1_000_000_000,
        size_bytes=700_000_000,
        n_ctx=4096,
        n_ctx_train=8192,
        chat_format=ChatFormatChoice("gguf-template", TEMPLATE),
        n_layers=16,
        gpu_layers=0,
        gpu_supported=False,
        n_threads=2,
        load_seconds=0.01,
    )


class FakeEngine:
    """Replies with `script` (a list of text pieces), one piece every `delay` seconds."""

    def __init__(
        self,
        script: list[str] | None = None,
        reasoning: list[str] | None = None,
        delay: float = 0.005,
        fail_with: str | None = None,
    ) -> None:
        self.script = ["Hello", " from", " the", " fake", " engine."] if script is None else script
        self.reasoning = reasoning or []
        self.delay = delay
        self.fail_with = fail_with
        self.info: ModelInfo | None = fake_info()
        self.forgotten: list = []
        self.requests: list[tuple[list[dict[str, str]], Sampling]] = []
        self._current: Generation | None = None

    def load(self, path, options: LoadOptions | None = None, progress=None) -> Future:
        future: Future = Future()
        self.info = fake_info(Path(path).name)
        future.set_result(self.info)
        return future

    def forget(self, cache_key) -> None:
        self.forgotten.append(cache_key)

    def count_tokens(self, messages) -> Future:
        future: Future = Future()
        future.set_result(sum(len(m["content"].split()) + 4 for m in messages))
        return future

    def chat(self, messages, sampling: Sampling | None = None, cache_key=None) -> Generation:
        self.requests.append(([dict(m) for m in messages], sampling or Sampling()))
        gen = Generation()
        self._current = gen
        threading.Thread(target=self._produce, args=(gen,), daemon=True).start()
        return gen

    def _produce(self, gen: Generation) -> None:
        started = time.perf_counter()
        text = reasoning = ""
        for piece in self.reasoning:
            time.sleep(self.delay)
            reasoning += piece
            gen.emit(ReasoningDelta(piece))
        for piece in self.script:
            if gen.stop_requested:
                break
            time.sleep(self.delay)
            text += piece
            gen.emit(TextDelta(piece))
        if self.fail_with:
            gen.emit(Failed(self.fail_with, text))
            return
        elapsed = time.perf_counter() - started
        stats = GenerationStats(
            prompt_tokens=20,
            prompt_tokens_evaluated=20,
            generated_tokens=len(self.script),
            prompt_seconds=0.01,
            generation_seconds=elapsed,
            time_to_first_token=self.delay,
            total_seconds=elapsed,
        )
        gen.emit(Finished(STOPPED if gen.stop_requested else STOP, text, reasoning, stats))

    def stop(self) -> None:
        if self._current is not None:
            self._current.stop()

    def close(self, timeout: float = 0) -> None:
        self.stop()
