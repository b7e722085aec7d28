"""The only layer that imports llama_cpp (lazily: importing this package is cheap)."""

from gguf_tui.engine.backend import Backend
from gguf_tui.engine.events import (
    CONTEXT,
    LENGTH,
    STOP,
    STOPPED,
    ContextTrimmed,
    Event,
    Failed,
    Finished,
    GenerationStats,
    ReasoningDelta,
    TextDelta,
)
from gguf_tui.engine.generation import Generation
from gguf_tui.engine.local.engine import Engine
from gguf_tui.engine.local.llama_model import LoadCancelled
from gguf_tui.engine.model_info import EngineError, ModelInfo
from gguf_tui.engine.options import LoadOptions, Sampling
from gguf_tui.engine.remote.endpoint import Endpoint
from gguf_tui.engine.remote.errors import RemoteError

__all__ = [
    "CONTEXT",
    "LENGTH",
    "STOP",
    "STOPPED",
    "Backend",
    "ContextTrimmed",
    "Endpoint",
    "Engine",
    "EngineError",
    "Event",
    "Failed",
    "Finished",
    "Generation",
    "GenerationStats",
    "LoadCancelled",
    "LoadOptions",
    "ModelInfo",
    "ReasoningDelta",
    "RemoteError",
    "Sampling",
    "TextDelta",
]
