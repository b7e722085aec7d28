"""How a model is loaded and how a reply is sampled."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from gguf_tui.models.hub.cache import repo_id_of
from gguf_tui.models.memory import DEFAULT_KV_TYPE, KV_CACHE_TYPES
from gguf_tui.models.quant import model_base_name

DEFAULT_N_CTX = 4096
GPU_LAYERS_AUTO = -2  # n_gpu_layers: as many as free device memory holds (0 on a CPU build)
GPU_LAYERS_ALL = -1
# --flash-attn's values, as llama.cpp names them, and its enum llama_flash_attn_type.
FLASH_ATTN_MODES = {"auto": -1, "off": 0, "on": 1}
CACHE_TYPE_NAMES = tuple(KV_CACHE_TYPES)
# --think: on/off (enable_thinking, reasoning_effort's default/least), or an effort.
THINK_MODES = ("on", "off", "low", "medium", "high")
THREADS_PER_CORE = 2  # the most threads asked for per usable core (beyond: refused, see below)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, else every core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def bounded_threads(requested: int | None) -> tuple[int | None, str]:
    """`requested` CPU threads as llama.cpp may be given them, and what to tell the user.

    The rule: from 1 to THREADS_PER_CORE x the usable cores. Beyond it nothing gets
    faster, and far beyond it llama.cpp breaks: 4,096 threads took 64 s to a first token,
    100,000 crashed the process in libgomp. Below 1 means llama.cpp's own choice."""
    if requested is None:
        return None, ""
    if requested < 1:
        return None, f"threads {requested} is below 1; using llama.cpp's choice"
    cores = usable_cores()
    most = THREADS_PER_CORE * cores
    if requested > most:
        return most, (
            f"threads {requested:,} is more than this machine can use ({cores} cores, at most "
            f"{most} threads); using {most}"
        )
    return requested, ""


# A model's profile (config.toml's [models."NAME"]) as the options carry it: for each
# field, its value and the value it replaces. It applies only where the field still holds
# the value it replaces, so what is more specific (a conversation's own n_ctx or
# temperature) wins; the command line's options are left out of it altogether.
ProfileEntry = tuple[str, Any, Any]  # (field, the profile's value, the value it replaces)
Profiles = tuple[tuple[str, tuple[ProfileEntry, ...]], ...]  # (NAME lowercased, entries)
_Options = TypeVar("_Options", "LoadOptions", "Sampling")


def profile_names(path: str | Path) -> set[str]:
    """The names a [models."NAME"] table may give a model file, lowercased: its base name
    (shared by its quantizations: `Qwen3-8B` for `Qwen3-8B-Q4_K_M.gguf`), and for a file
    in the Hugging Face cache its repo (`unsloth/Qwen3-8B-GGUF`) and the repo's name."""
    path = Path(path)
    names = {model_base_name(path.name).lower()}
    for parent in path.parents:
        if repo := repo_id_of(parent.name):
            names |= {repo.lower(), repo.split("/", 1)[1].lower()}
            break
    return names


def with_profile(options: _Options, path: str | Path) -> _Options:
    """`options` with the profile of the model at `path` applied (and none carried on)."""
    if not options.profiles:
        return options
    names = profile_names(path)
    changes: dict[str, Any] = {}
    for name, entries in options.profiles:
        if name in names:
            changes = {f: v for f, v, base in entries if getattr(options, f) == base}
            break
    return replace(options, profiles=(), **changes)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """Settings fixed when a model is loaded (changing them means reloading)."""

    n_ctx: int = DEFAULT_N_CTX  # 0 = the model's training context
    n_gpu_layers: int = GPU_LAYERS_AUTO  # -1 = every layer, -2 = fit to free device memory
    n_threads: int | None = None  # None = llama.cpp's choice
    chat_format: str | None = None  # None = the GGUF template, else by architecture
    n_batch: int = 512  # logical batch (--batch-size)
    n_ubatch: int = 512  # physical batch (--ubatch-size), at most n_batch
    flash_attn: str = "auto"  # FLASH_ATTN_MODES
    cache_type_k: str = DEFAULT_KV_TYPE  # KV_CACHE_TYPES
    cache_type_v: str = DEFAULT_KV_TYPE
    use_mmap: bool = True  # --no-mmap: read the whole file into memory instead
    use_mlock: bool = False  # --mlock: keep the weights from being swapped out
    profiles: Profiles = ()  # per-model settings, applied by the engine (with_profile)

    @property
    def kv_types(self) -> tuple[str, str]:
        return self.cache_type_k, self.cache_type_v


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
    # --think (THINK_MODES): the template's `enable_thinking` (Qwen3 and its kind) or
    # `reasoning_effort` (gpt-oss); "" = the template's own default. Templates without
    # either switch ignore it (chat_format.ThinkSwitch).
    think: str = ""
    profiles: Profiles = ()  # per-model settings, applied by the engine (with_profile)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["stop"] = list(self.stop)
        del data["profiles"]
        return data
