"""Settings (config.toml) -> the engine's LoadOptions and Sampling.

Shared by the command line, which lays its own options on top, and the settings
screen, which applies edited settings to the running app.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from gguf_tui.config.settings import Settings
from gguf_tui.engine.options import GPU_LAYERS_AUTO, LoadOptions, Profiles, Sampling

_SETTING_OF = {"n_threads": "threads"}  # an option's field -> its config.toml key


def _pick(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


def gpu_layers(value: int | str) -> int:
    """config.toml's and --n-gpu-layers' value ("auto" or a count) as LoadOptions holds it."""
    return GPU_LAYERS_AUTO if value == "auto" else int(value)


def _profiles(settings: Settings, overrides: dict[str, Any], build) -> Profiles:
    """Each [models."NAME"] profile as the fields it changes against `build(settings)`,
    leaving out what the command line gave (the command line wins)."""
    base = build(settings, overrides)
    result = []
    for name, profile in settings.models.items():
        own = build(replace(settings, **profile), overrides)
        entries = tuple(
            (f.name, getattr(own, f.name), getattr(base, f.name))
            for f in fields(base)
            if f.name != "profiles"
            and overrides.get(_SETTING_OF.get(f.name, f.name)) is None
            and getattr(own, f.name) != getattr(base, f.name)
        )
        if entries:
            result.append((name.lower(), entries))
    return tuple(result)


def load_options(settings: Settings, **overrides: Any) -> LoadOptions:
    """`overrides` are command-line values; None means "not given". The profiles of
    config.toml's [models."NAME"] ride along; the engine applies the loaded model's."""
    options = _load_options(settings, overrides)
    return replace(options, profiles=_profiles(settings, overrides, _load_options))


def _load_options(settings: Settings, overrides: dict[str, Any]) -> LoadOptions:
    threads = _pick(overrides.get("threads"), settings.threads)
    n_batch = _pick(overrides.get("n_batch"), settings.n_batch)
    mmap = _pick(overrides.get("use_mmap"), settings.use_mmap)
    return LoadOptions(
        n_ctx=_pick(overrides.get("n_ctx"), settings.n_ctx),
        n_gpu_layers=gpu_layers(_pick(overrides.get("n_gpu_layers"), settings.n_gpu_layers)),
        n_threads=threads if threads and threads > 0 else None,
        chat_format=overrides.get("chat_format") or settings.chat_format or None,
        n_batch=n_batch,
        n_ubatch=min(n_batch, _pick(overrides.get("n_ubatch"), settings.n_ubatch)),
        flash_attn=_pick(overrides.get("flash_attn"), settings.flash_attn),
        cache_type_k=_pick(overrides.get("cache_type_k"), settings.cache_type_k),
        cache_type_v=_pick(overrides.get("cache_type_v"), settings.cache_type_v),
        use_mmap=mmap,
        use_mlock=_pick(overrides.get("use_mlock"), settings.use_mlock),
    )


def sampling(settings: Settings, **overrides: Any) -> Sampling:
    """Like load_options: command-line values on config.toml's, with the profiles."""
    options = _sampling(settings, overrides)
    return replace(options, profiles=_profiles(settings, overrides, _sampling))


def _sampling(settings: Settings, overrides: dict[str, Any]) -> Sampling:
    max_tokens = _pick(overrides.get("max_tokens"), settings.max_tokens)
    return Sampling(
        max_tokens=max_tokens if max_tokens and max_tokens > 0 else None,
        temperature=_pick(overrides.get("temperature"), settings.temperature),
        top_p=_pick(overrides.get("top_p"), settings.top_p),
        top_k=_pick(overrides.get("top_k"), settings.top_k),
        min_p=_pick(overrides.get("min_p"), settings.min_p),
        repeat_penalty=_pick(overrides.get("repeat_penalty"), settings.repeat_penalty),
        seed=overrides.get("seed"),
        think=_pick(overrides.get("think"), settings.think),
    )
