"""`--n-gpu-layers auto`: how many layers fit in the GPU's free memory.

A pure function of figures (free device memory, the model's per-layer sizes from its
GGUF header, the KV cache at the chosen context and types), so it is tested against
recorded device figures without a GPU. The rule:

    budget = free - margin - compute buffer
    layers = the most n for which the last n repeating layers' weights + their KV cache
             fit the budget (llama.cpp offloads from the last layer down); when all do
             and the output head fits too, everything goes (n_gpu_layers -1)
    margin = 512 MiB + 5 % of the device: the CUDA context and cuBLAS workspace that
             llama.cpp creates during the load are not in the free figure before it

A load that still runs out of device memory backs off (`back_off`) and is retried.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gguf_tui.models.gguf_file import GGUFHeader, TensorInfo

MIB = 1 << 20
GB = 1_000_000_000  # the status line speaks as nvidia-smi's users do: "5.1 of 8 GB"
MARGIN_FIXED = 512 * MIB
MARGIN_SHARE = 0.05
ALL_LAYERS = -1  # n_gpu_layers for every layer and the output head
_LAYER_RE = re.compile(r"^blk\.(\d+)\.")
_OUTPUT_NAMES = ("output.weight", "output_norm.weight", "output.bias", "output_norm.bias")
# llama.cpp's words for a device allocation that failed (CUDA, Metal, Vulkan, the allocator).
_OOM_RE = re.compile(
    r"out of memory|failed to allocate|unable to allocate|cudaMalloc failed|"
    r"ErrorOutOfDeviceMemory|not enough memory",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DeviceMemory:
    """The GPU's memory now (bytes); several GPUs are added up (llama.cpp splits the
    layers across them)."""

    free: int
    total: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class ModelShape:
    """What a model puts on the GPU, per part (bytes)."""

    layer_bytes: tuple[int, ...]  # weights of each repeating layer, blk.0 first
    output_bytes: int  # the output head and its norm: offloaded only with every layer
    kv_bytes_per_layer: int  # at the chosen context and cache types
    compute_bytes: int  # llama.cpp's compute buffer on the device

    @property
    def n_layers(self) -> int:
        return len(self.layer_bytes)


@dataclass(frozen=True, slots=True)
class GpuFit:
    """The decision: `n_gpu_layers` to load with, and what it is expected to take."""

    n_gpu_layers: int  # ALL_LAYERS, or a count of layers
    n_layers: int
    used: int  # bytes expected on the device
    free: int
    total: int

    @property
    def layers(self) -> int:
        return self.n_layers if self.n_gpu_layers == ALL_LAYERS else self.n_gpu_layers

    @property
    def text(self) -> str:
        """ "GPU 28/32 layers · 5.1 of 8 GB" (expected use of the device's total)."""
        total = f"{self.total / GB:.0f}" if self.total >= 10 * GB else f"{self.total / GB:.1f}"
        total = total.removesuffix(".0")
        return f"GPU {self.layers}/{self.n_layers} layers · {self.used / GB:.1f} of {total} GB"


def margin(device: DeviceMemory) -> int:
    return MARGIN_FIXED + int(device.total * MARGIN_SHARE)


def choose_layers(device: DeviceMemory, shape: ModelShape) -> GpuFit:
    """The most layers whose weights and KV cache fit the device's free memory."""
    budget = device.free - margin(device) - shape.compute_bytes
    count = 0
    for layer in reversed(shape.layer_bytes):  # llama.cpp offloads the last layers first
        budget -= layer + shape.kv_bytes_per_layer
        if budget < 0:
            break
        count += 1
    if count == shape.n_layers and shape.output_bytes <= budget:
        return expected_fit(device, shape, ALL_LAYERS)
    return expected_fit(device, shape, count)


def expected_fit(device: DeviceMemory, shape: ModelShape, n_gpu_layers: int) -> GpuFit:
    """What `n_gpu_layers` (a count, or ALL_LAYERS) is expected to take on the device."""
    count = shape.n_layers if n_gpu_layers == ALL_LAYERS else min(n_gpu_layers, shape.n_layers)
    if count <= 0:
        return GpuFit(0, shape.n_layers, 0, device.free, device.total)
    used = shape.compute_bytes + sum(shape.layer_bytes[shape.n_layers - count :])
    used += count * shape.kv_bytes_per_layer
    if n_gpu_layers == ALL_LAYERS:
        used += shape.output_bytes
    return GpuFit(n_gpu_layers, shape.n_layers, used, device.free, device.total)


def back_off(layers: int, n_layers: int) -> int:
    """Fewer layers after a load ran out of device memory: an eighth of the model
    fewer each time (at least one), so a 32-layer model reaches 0 in at most 8 tries."""
    current = n_layers if layers == ALL_LAYERS else layers
    return max(0, current - max(1, n_layers // 8))


def is_out_of_memory(lines: Iterable[str]) -> bool:
    """Did llama.cpp's log say a device allocation failed?"""
    return any(_OOM_RE.search(line) for line in lines)


def layer_sizes(
    tensors: Sequence[TensorInfo], n_layers: int, file_size: int
) -> tuple[tuple[int, ...], int]:
    """Each repeating layer's weights (blk.N.*) and the output head's, from the tensor
    tables of every shard. A tensor of a type this reader does not size makes the layers
    the file's size shared equally (an over-estimate: it includes the embeddings)."""
    per_layer = [0] * n_layers
    output = 0
    for tensor in tensors:
        size = tensor.n_bytes
        if size is None:
            share = file_size // max(1, n_layers + 1)
            return (share,) * n_layers, share
        if m := _LAYER_RE.match(tensor.name):
            index = int(m.group(1))
            if index < n_layers:
                per_layer[index] += size
        elif tensor.name in _OUTPUT_NAMES:
            output += size
    if not any(t.name == "output.weight" for t in tensors):  # tied: llama.cpp copies the
        output += sum(t.n_bytes or 0 for t in tensors if t.name == "token_embd.weight")
    return tuple(per_layer), output


def compute_buffer_bytes(
    n_ubatch: int, n_ctx: int, n_vocab: int, n_embd: int, n_head: int, flash_attn: bool
) -> int:
    """llama.cpp's compute buffer on the device, roughly: the logits of a batch, a few
    activations of it, and (without flash attention) one layer's attention scores."""
    logits = n_ubatch * n_vocab * 4
    activations = n_ubatch * n_embd * 4 * 16
    scores = 0 if flash_attn else n_ubatch * n_ctx * n_head * 4
    return logits + activations + scores


def parse_nvidia_smi_free(output: str) -> DeviceMemory | None:
    """`memory.free,memory.total,name` lines (MiB) -> every GPU's memory added up."""
    free = total = 0
    names: list[str] = []
    for line in output.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2:
            continue
        try:
            free += int(float(parts[0])) * MIB
            total += int(float(parts[1])) * MIB
        except ValueError:
            continue
        if len(parts) > 2 and parts[2]:
            names.append(parts[2])
    if not total:
        return None
    return DeviceMemory(free, total, " + ".join(names))


def _int(meta: dict[str, Any], key: str) -> int:
    value = meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def model_shape(
    headers: Sequence[GGUFHeader],
    kv_bytes_per_token: int,
    n_ctx: int,
    n_ubatch: int,
    flash_attn: bool,
) -> ModelShape | None:
    """What the model puts on the GPU, from its headers (every shard's tensor table);
    None when the file does not say how many layers it has."""
    meta = headers[0].metadata
    arch = str(meta.get("general.architecture", ""))
    n_layers = _int(meta, f"{arch}.block_count")
    if not n_layers:
        return None
    tensors = [t for h in headers for t in h.tensors]
    file_size = sum(h.file_size for h in headers)
    layers, output = layer_sizes(tensors, n_layers, file_size)
    n_vocab = headers[0].array_lengths.get("tokenizer.ggml.tokens") or _int(
        meta, f"{arch}.vocab_size"
    )
    compute = compute_buffer_bytes(
        n_ubatch,
        n_ctx,
        n_vocab,
        _int(meta, f"{arch}.embedding_length"),
        _int(meta, f"{arch}.attention.head_count"),
        flash_attn,
    )
    return ModelShape(layers, output, kv_bytes_per_token * n_ctx // n_layers, compute)


def device_memory() -> DeviceMemory | None:
    """Free and total memory of the NVIDIA GPUs now (nvidia-smi), or None when there is
    no way to ask (no NVIDIA driver: Metal, Vulkan, ROCm without it)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=memory.free,memory.total,name", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvidia_smi_free(out)
