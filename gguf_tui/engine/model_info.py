"""What the engine knows about the model it has loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gguf_tui.engine.local.chat_format import ChatFormatChoice


class EngineError(Exception):
    """A failure meant for the user: the message says what happened and what to do."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A local file (`path` set, `model_id` its file name) or a server's model (`path`
    None, `model_id` the id the server lists, e.g. `org/model`, `server` its host)."""

    model_id: str
    path: Path | None
    name: str
    architecture: str
    quant: str
    n_params: int
    size_bytes: int  # every shard
    n_ctx: int
    n_ctx_train: int
    chat_format: ChatFormatChoice
    n_layers: int
    gpu_layers: int  # layers llama.cpp reports as offloaded
    gpu_supported: bool  # this llama-cpp-python build can offload at all
    n_threads: int
    load_seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)  # things the user should be told
    server: str = ""  # host:port of the OpenAI-compatible server; "" for a local file
    gpu_fit: str = ""  # --n-gpu-layers auto's decision: "GPU 28/32 layers · 5.1 of 8 GB"
    kv_types: tuple[str, str] = ("f16", "f16")  # the KV cache's K and V types, as loaded
    flash_attn_mode: str = ""  # the --flash-attn mode it loaded with (after the V-cache rule)
    flash_attn: bool = False  # what llama.cpp settled on (auto resolves at load)

    @property
    def label(self) -> str:
        return f"{self.name} {self.quant}"

    @property
    def is_remote(self) -> bool:
        """Answered by a server, not loaded on this machine: the one way to ask."""
        return self.path is None

    @property
    def model_file(self) -> str:
        """What a message records as the model that wrote it: the file name, or
        `host:port/model-id` for a model on a server (the whole id, `org/model`)."""
        return f"{self.server}/{self.model_id}" if self.is_remote else self.model_id
