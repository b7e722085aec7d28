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
from gguf_tui.engine.options import Sampling
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
