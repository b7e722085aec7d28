"""Will a model fit? This machine's memory, and a model's needs for a given context size.

The estimate (see docs/models.md):

    needed   = weights + kv_cache + overhead
    weights  = the file size (llama.cpp maps the whole file; the header is a rounding error)
    kv_cache = n_ctx × Σ_layers n_head_kv × (key_length × K bytes + value_length × V bytes)
               with the bytes per element of the chosen cache types (f16: 2, q8_0: 34/32,
               q4_0: 18/32, …: KV_CACHE_TYPES). Without the hyperparameters, 10% of the
               weights per 4096 tokens at f16, what grouped-query-attention models typically
               need, scaled by the types the same way.
    overhead = 5% of the weights + 256 MiB for llama.cpp's compute buffers.

It then says "gpu" when that fits in the GPU's memory, "ram" when it fits in the memory
available now, "tight" when only in the total memory (other programs must give way), and
"too big" otherwise.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class KvCacheType:
    """A type llama.cpp can keep its KV cache in: its ggml type id and its block size."""

    ggml_type: int  # enum ggml_type, what llama_context_params.type_k/type_v take
    block_bytes: int
    block_elements: int

    @property
    def bytes_per_element(self) -> float:
        return self.block_bytes / self.block_elements

    @property
    def quantized(self) -> bool:
        return self.block_elements > 1


# llama.cpp's names for --cache-type-k/--cache-type-v (common/arg.cpp, kv_cache_types), with
# ggml's type ids and block layouts (ggml-common.h: block_q8_0 is 32 int8 + an f16 scale).
KV_CACHE_TYPES: dict[str, KvCacheType] = {
    "f32": KvCacheType(0, 4, 1),
    "f16": KvCacheType(1, 2, 1),
    "bf16": KvCacheType(30, 2, 1),
    "q8_0": KvCacheType(8, 34, 32),
    "q4_0": KvCacheType(2, 18, 32),
    "q4_1": KvCacheType(3, 20, 32),
    "iq4_nl": KvCacheType(20, 18, 32),
    "q5_0": KvCacheType(6, 22, 32),
    "q5_1": KvCacheType(7, 24, 32),
}
DEFAULT_KV_TYPE = "f16"


def kv_type_scale(type_k: str = DEFAULT_KV_TYPE, type_v: str = DEFAULT_KV_TYPE) -> float:
    """The KV cache in these types over the same cache in f16 (K and V taken as equal
    halves, as they are whenever key_length == value_length)."""
    k, v = KV_CACHE_TYPES[type_k], KV_CACHE_TYPES[type_v]
    return (k.bytes_per_element + v.bytes_per_element) / 4


_KV_FALLBACK_SHARE = 0.10  # of the weights, per 4096 tokens
_OVERHEAD_SHARE = 0.05
_OVERHEAD_FIXED = 256 * MIB
_FIT_LABELS = {
    "gpu": "fits in GPU memory",
    "ram": "fits in memory",
    "tight": "tight: close other programs",
    "too big": "too big for this machine",
    "unknown": "memory unknown",
}


@dataclass(frozen=True, slots=True)
class SystemMemory:
    """Bytes of memory on this machine; None where it could not be found out."""

    ram_total: int | None
    ram_available: int | None
    vram_total: int | None = None
    gpu_name: str | None = None


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """What a model needs at one context size, and where that fits."""

    weights: int
    kv_cache: int
    overhead: int
    n_ctx: int
    kv_exact: bool  # False: the KV cache size is the rule of thumb
    fit: str  # "gpu" | "ram" | "tight" | "too big" | "unknown"

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.overhead

    @property
    def label(self) -> str:
        return _FIT_LABELS[self.fit]


def system_memory() -> SystemMemory:
    """RAM from /proc/meminfo (or sysconf); VRAM from nvidia-smi when there is one."""
    total, available = _ram()
    vram, name = _vram()
    return SystemMemory(total, available, vram, name)


def _ram() -> tuple[int | None, int | None]:
    info: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                info[key] = int(parts[0]) * 1024
    except OSError:
        pass
    total = info.get("MemTotal")
    available = info.get("MemAvailable")
    if total is None:
        try:
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            total = None
    return total, available if available is not None else total


@functools.lru_cache(maxsize=1)
def _vram() -> tuple[int | None, str | None]:
    """The largest NVIDIA GPU's memory; asked once per process (nvidia-smi takes ~50 ms)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None, None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=memory.total,name", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return parse_nvidia_smi(out)


def parse_nvidia_smi(output: str) -> tuple[int | None, str | None]:
    """`memory.total,name` lines (MiB) -> the biggest GPU's bytes and name."""
    best: tuple[int | None, str | None] = (None, None)
    for line in output.splitlines():
        mib, _, name = line.partition(",")
        try:
            size = int(float(mib.strip())) * MIB
        except ValueError:
            continue
        if best[0] is None or size > best[0]:
            best = (size, name.strip() or None)
    return best


def kv_bytes_per_token(
    metadata: Mapping[str, Any], type_k: str = DEFAULT_KV_TYPE, type_v: str = DEFAULT_KV_TYPE
) -> int | None:
    """Bytes of KV cache per token of context in these cache types (llama.cpp's default is
    f16 for both), from a GGUF's hyperparameters."""
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        return None
    layers = metadata.get(f"{arch}.block_count")
    heads = metadata.get(f"{arch}.attention.head_count")
    embd = metadata.get(f"{arch}.embedding_length")
    kv_heads = metadata.get(f"{arch}.attention.head_count_kv", heads)
    if not isinstance(layers, int) or layers <= 0:
        return None
    per_layer_heads = _per_layer(kv_heads, layers)
    if per_layer_heads is None:
        return None
    head_dim = None
    if isinstance(embd, int) and isinstance(heads, int) and heads > 0:
        head_dim = embd // heads
    elif isinstance(embd, int) and (per_layer := _per_layer(heads, layers)) and max(per_layer) > 0:
        head_dim = embd // max(per_layer)
    k_len = metadata.get(f"{arch}.attention.key_length", head_dim)
    v_len = metadata.get(f"{arch}.attention.value_length", k_len)
    if not isinstance(k_len, int) or not isinstance(v_len, int):
        return None
    k, v = KV_CACHE_TYPES[type_k], KV_CACHE_TYPES[type_v]
    return round(sum(per_layer_heads) * (k_len * k.bytes_per_element + v_len * v.bytes_per_element))


def _per_layer(value: Any, layers: int) -> list[int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * layers
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return list(value)
    return None


def estimate_memory(
    file_size: int,
    n_ctx: int,
    kv_per_token: int | None = None,
    memory: SystemMemory | None = None,
    kv_types: tuple[str, str] = (DEFAULT_KV_TYPE, DEFAULT_KV_TYPE),
) -> MemoryEstimate:
    """The memory a model of `file_size` bytes needs at `n_ctx` tokens, and where it fits.

    `kv_per_token` is the f16 figure (what the catalog caches); `kv_types` the cache
    types (K, V) the model will be loaded with."""
    scale = kv_type_scale(*kv_types)
    if kv_per_token:
        kv, exact = int(kv_per_token * n_ctx * scale), True
    else:
        kv, exact = int(file_size * _KV_FALLBACK_SHARE * n_ctx / 4096 * scale), False
    overhead = int(file_size * _OVERHEAD_SHARE) + _OVERHEAD_FIXED
    need = file_size + kv + overhead
    mem = memory if memory is not None else system_memory()
    if mem.vram_total and need <= mem.vram_total:
        fit = "gpu"
    elif mem.ram_available and need <= mem.ram_available:
        fit = "ram"
    elif mem.ram_total and need <= mem.ram_total:
        fit = "tight"
    elif mem.ram_total:
        fit = "too big"
    else:
        fit = "unknown"
    return MemoryEstimate(file_size, kv, overhead, n_ctx, exact, fit)
