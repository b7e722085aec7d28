"""The options a load passes to llama.cpp beyond the file: cache types, flash attention,
and how many layers go to the GPU (`--n-gpu-layers auto`, models/gpu_fit.py).

Runs on the engine thread, as part of LlamaModel.load."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from gguf_tui.engine.model_info import EngineError
from gguf_tui.engine.options import FLASH_ATTN_MODES, LoadOptions
from gguf_tui.models.gguf_file import GGUFError, GGUFHeader, read_header, shard_paths
from gguf_tui.models.gpu_fit import GpuFit, ModelShape, choose_layers, device_memory, model_shape
from gguf_tui.models.memory import KV_CACHE_TYPES, kv_bytes_per_token

log = logging.getLogger(__name__)


def check_cache_options(options: LoadOptions) -> tuple[str, str]:
    """The flash attention mode to load with, and a note when it is not the one asked for.

    llama.cpp refuses a quantized V cache without flash attention ("quantized V cache
    requires flash_attn", then llama-cpp-python's bare "Failed to create llama_context"):
    with --flash-attn off it is turned on, and the note says so. An unknown type or mode
    is an EngineError naming the choices."""
    for what, name in (
        ("cache-type-k", options.cache_type_k),
        ("cache-type-v", options.cache_type_v),
    ):
        if name not in KV_CACHE_TYPES:
            raise EngineError(
                f"--{what} {name!r} is not a KV cache type llama.cpp knows "
                f"(one of {', '.join(KV_CACHE_TYPES)})"
            )
    mode = options.flash_attn
    if mode not in FLASH_ATTN_MODES:
        raise EngineError(f"--flash-attn {mode!r} should be one of {', '.join(FLASH_ATTN_MODES)}")
    if KV_CACHE_TYPES[options.cache_type_v].quantized and mode == "off":
        return "on", (
            f"a {options.cache_type_v} V cache needs flash attention, so it is on "
            "(--flash-attn off was asked for; use --cache-type-v f16 to keep it off)"
        )
    return mode, ""


def auto_gpu_fit(
    header: GGUFHeader, options: LoadOptions, n_ctx: int, flash_attn: str
) -> tuple[GpuFit, ModelShape] | None:
    """--n-gpu-layers auto on a GPU build: the layers that fit the free device memory
    now (models/gpu_fit.py), or None when the device cannot be asked (then: all)."""
    device = device_memory()
    if device is None:
        return None
    try:
        headers = [header, *(read_header(p) for p in shard_paths(header.path)[1:])]
    except GGUFError:
        return None
    per_token = kv_bytes_per_token(header.metadata, *options.kv_types) or 0
    n_ubatch = min(options.n_ubatch, options.n_batch, n_ctx)
    shape = model_shape(headers, per_token, n_ctx, n_ubatch, flash_attn != "off")
    if shape is None:
        return None
    fit = choose_layers(device, shape)
    log.info("--n-gpu-layers auto: %s (%s free, device %s)", fit.text, device.free, device.name)
    return fit, shape


@contextlib.contextmanager
def flash_attn_type(lib: Any, mode: str):
    """Give llama.cpp the tri-state flash attention (auto/off/on): Llama() takes only a
    bool, so the context factory it calls is wrapped to set `flash_attn_type` for the
    duration of the load. Builds without the enum get the bool (auto = off)."""
    if not hasattr(lib, "LLAMA_FLASH_ATTN_TYPE_AUTO"):
        yield mode == "on"
        return
    original = lib.llama_init_from_model

    def init_from_model(model: Any, params: Any) -> Any:
        params.flash_attn_type = FLASH_ATTN_MODES[mode]
        return original(model, params)

    lib.llama_init_from_model = init_from_model
    try:
        yield mode == "on"
    finally:
        lib.llama_init_from_model = original
