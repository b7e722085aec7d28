"""Fit a conversation into the context window by leaving out its oldest turns.

Nothing is deleted: the caller keeps every message, the model just does not see
the oldest ones. The system prompt and the newest message are never left out,
and whole turns go together so the roles still alternate (several templates
raise an error otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gguf_tui.engine.model_info import EngineError

Message = dict[str, str]


class ContextOverflowError(EngineError, ValueError):
    """Even the system prompt and the newest message alone exceed the window."""


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    messages: list[Message]
    tokens: list[int]
    dropped: int  # messages left out from the start of the conversation


def reply_reserve(n_ctx: int, max_tokens: int | None) -> int:
    """Room kept free for the answer when deciding whether a prompt fits."""
    wanted = max_tokens if max_tokens and max_tokens > 0 else n_ctx // 4
    return max(1, min(wanted, n_ctx // 2))


def fit_messages(
    messages: Sequence[Message],
    encode: Callable[[list[Message]], list[int]],
    n_ctx: int,
    reserve: int,
) -> FittedPrompt:
    """The longest tail of the conversation whose prompt leaves `reserve` tokens free.

    `encode` renders and tokenizes a message list. Prompt length grows with the
    number of kept messages, so the cut point is found by binary search: a few
    encodes even for conversations of thousands of messages.
    """
    system = [m for m in messages[:1] if m["role"] == "system"]
    turns = list(messages[len(system) :])
    budget = n_ctx - reserve

    def attempt(drop: int) -> tuple[list[Message], list[int]]:
        kept = system + turns[drop:]
        return kept, encode(kept)

    kept, tokens = attempt(0)
    if len(tokens) <= budget or len(turns) <= 1:
        return _checked(kept, tokens, 0, n_ctx)

    # Legal cut points: drop everything before a user message (never the last one).
    cuts = [i for i in range(1, len(turns) - 1) if turns[i]["role"] == "user"]
    cuts.append(len(turns) - 1)  # the newest message alone
    lo, hi = 0, len(cuts) - 1
    best: tuple[list[Message], list[int], int] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        kept, tokens = attempt(cuts[mid])
        if len(tokens) <= budget:
            best = (kept, tokens, cuts[mid])
            hi = mid - 1
        else:
            lo = mid + 1
    if best is None:  # even the newest message alone leaves less room than wished
        kept, tokens = attempt(cuts[-1])
        return _checked(kept, tokens, cuts[-1], n_ctx)
    return _checked(*best, n_ctx)


def _checked(kept: list[Message], tokens: list[int], dropped: int, n_ctx: int) -> FittedPrompt:
    if len(tokens) >= n_ctx:
        raise ContextOverflowError(
            f"the message is too long for the context window: the prompt needs "
            f"{len(tokens):,} tokens and the window holds {n_ctx:,}. Shorten it, or "
            f"load the model with a larger --n-ctx"
        )
    return FittedPrompt(kept, tokens, dropped)
