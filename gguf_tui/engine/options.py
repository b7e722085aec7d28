"""How a model is loaded and how a reply is sampled."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

DEFAULT_N_CTX = 4096


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """Settings fixed when a model is loaded (changing them means reloading)."""

    n_ctx: int = DEFAULT_N_CTX  # 0 = the model's training context
    n_gpu_layers: int = 0  # -1 = every layer
    n_threads: int | None = None  # None = llama.cpp's choice
    chat_format: str | None = None  # None = the GGUF template, else by architecture
    n_batch: int = 512
    flash_attn: bool = False


@dataclass(frozen=True, slots=True)
class Sampling:
    """Per-request sampling; `seed=None` draws a fresh seed for every reply."""

    max_tokens: int | None = None  # None = until the model stops or the window is full
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)
    # Generate past end-of-generation tokens and stop strings, so a benchmark gets
    # exactly max_tokens tokens whatever the model would have said.
    ignore_eos: bool = False

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data
