"""What the model is sent for a conversation, and with which settings.

Saved messages are not sent as they are: a crash can leave an empty answer (the model
would take it as an example and answer nothing from then on), a failed answer leaves
two questions in a row (templates that insist on alternating roles would refuse the
conversation), and the system prompt comes from the conversation or the app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from gguf_tui.engine.local.llama_model import effective_n_ctx
from gguf_tui.engine.local.load_params import check_cache_options
from gguf_tui.engine.model_info import ModelInfo
from gguf_tui.engine.options import CACHE_TYPE_NAMES, FLASH_ATTN_MODES, LoadOptions, Sampling
from gguf_tui.store.records import Message

ModelMessage = dict[str, str]


def model_messages(saved: Iterable[Message], system_prompt: str = "") -> list[ModelMessage]:
    """The system prompt, then every message the model should see (the engine trims)."""
    messages: list[ModelMessage] = []
    for m in saved:
        if not m.content and m.role == "assistant":
            continue
        if messages and messages[-1]["role"] == m.role == "user":
            messages[-1]["content"] += "\n\n" + m.content
        else:
            messages.append({"role": m.role, "content": m.content})
    if system_prompt and not (messages and messages[0]["role"] == "system"):
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def system_prompt_for(overrides: Mapping[str, Any], app_prompt: str) -> str:
    """The conversation's own system prompt, else the app's."""
    return str(overrides.get("system_prompt") or "") or app_prompt


def before_last_answer(messages: list[ModelMessage]) -> list[ModelMessage]:
    """Everything the last answer was written from: what "answer again" sends."""
    if messages and messages[-1]["role"] == "assistant":
        return messages[:-1]
    return messages


def sampling_for(base: Sampling, overrides: Mapping[str, Any]) -> Sampling:
    """The run's sampling with the conversation's own overrides on top."""
    known = {k: v for k, v in overrides.items() if k in Sampling.__dataclass_fields__}
    return replace(base, **known) if known else base


def wanted_n_ctx(overrides: Mapping[str, Any], loaded_n_ctx: int, n_ctx_train: int) -> int | None:
    """The context size a conversation asks for, when the model must be reloaded for it
    (None: its own n_ctx is unset, or the loaded model already has it)."""
    wanted = overrides.get("n_ctx")
    if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted <= 0:
        return None
    return wanted if effective_n_ctx(wanted, n_ctx_train) != loaded_n_ctx else None


# What a conversation may set of how the model is loaded (f4), with the values it may take.
CONVERSATION_LOAD_KEYS = ("n_ctx", "cache_type_k", "cache_type_v", "flash_attn")
_CHOICES: dict[str, tuple[str, ...]] = {
    "cache_type_k": CACHE_TYPE_NAMES,
    "cache_type_v": CACHE_TYPE_NAMES,
    "flash_attn": tuple(FLASH_ATTN_MODES),
}


def own_load_settings(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The conversation's own load settings that are usable (a bad saved value is left
    out: the app's setting then holds, as for an empty field)."""
    own: dict[str, Any] = {}
    for key in CONVERSATION_LOAD_KEYS:
        value = overrides.get(key)
        if key == "n_ctx":
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                own[key] = value
        elif isinstance(value, str) and value in _CHOICES[key]:
            own[key] = value
    return own


def conversation_options(overrides: Mapping[str, Any], base: LoadOptions) -> LoadOptions:
    """`base` (the app's options) with the conversation's own load settings on top; a
    model profile no longer sets what the conversation sets."""
    own = own_load_settings(overrides)
    if not own:
        return base
    profiles = tuple(
        (name, tuple(e for e in entries if e[0] not in own)) for name, entries in base.profiles
    )
    return replace(base, profiles=profiles, **own)


def conversation_load_options(
    overrides: Mapping[str, Any], base: LoadOptions, loaded: ModelInfo
) -> LoadOptions | None:
    """The options to reload the model in use with, for a conversation with its own
    context size, KV-cache types or flash attention; None when it has none, or the model
    already loaded with them. Only what the conversation sets is compared, as for n_ctx:
    a conversation without its own value takes the model as it is loaded.

    The rest comes from `base` (the app's options: conversation_options). Flash attention
    is compared after llama.cpp's rule (a quantized V cache turns it on), so an 'off' it
    cannot have never reloads again."""
    own = own_load_settings(overrides)
    if not own:
        return None
    wanted = conversation_options(overrides, base)
    mode, _ = check_cache_options(wanted)
    differs = {
        "n_ctx": lambda v: effective_n_ctx(v, loaded.n_ctx_train) != loaded.n_ctx,
        "cache_type_k": lambda v: v != loaded.kv_types[0],
        "cache_type_v": lambda v: v != loaded.kv_types[1],
        "flash_attn": lambda _v: mode != loaded.flash_attn_mode,
    }
    return wanted if any(differs[k](v) for k, v in own.items()) else None


def describe_load_settings(options: LoadOptions, own: Mapping[str, Any]) -> str:
    """What a reload for a conversation is for: "a context of 2048 tokens, KV cache
    q8_0/q8_0, flash attention on" (the types and modes by llama.cpp's names)."""
    parts = []
    if "n_ctx" in own:
        parts.append(f"a context of {options.n_ctx} tokens")
    if "cache_type_k" in own or "cache_type_v" in own:
        parts.append(f"KV cache {options.cache_type_k}/{options.cache_type_v}")
    if "flash_attn" in own:
        parts.append(f"flash attention {options.flash_attn}")
    return ", ".join(parts)
