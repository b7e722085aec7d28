"""Move one reply from the engine into the chat view and the database.

The engine thread only appends to its Generation; this drains it about 30 times
a second on the UI side (a per-token call from the engine thread would make
generation wait on the UI), writes the batched text into the message widget,
and checkpoints the growing answer into SQLite twice a second, so a crash loses
at most the last moments of one answer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from gguf_tui.engine import (
    ContextTrimmed,
    Failed,
    Finished,
    Generation,
    ReasoningDelta,
    Sampling,
    TextDelta,
)
from gguf_tui.store.database import Store
from gguf_tui.store.records import Message
from gguf_tui.tui.widgets.messages import AssistantMessage

CHECKPOINT_SECONDS = 0.5


@dataclass
class ReplyOutcome:
    message: Message | None  # the saved answer, None when nothing was written
    finished: Finished | None
    error: str | None
    trimmed: ContextTrimmed | None


class ReplyStream:
    """One answer in flight: `pump()` is called by a UI timer until it returns an outcome."""

    def __init__(
        self,
        gen: Generation,
        widget: AssistantMessage,
        store: Store,
        placeholder: Message,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        self.gen = gen
        self.widget = widget
        self.store = store
        self.placeholder = placeholder
        self.seed = seed  # recorded with the answer, to answer again the same way
        self._clock = clock
        self._last_checkpoint = clock()
        self._dirty = False
        self._trimmed: ContextTrimmed | None = None
        self.tokens_seen = 0  # deltas received, for the status line

    @property
    def message_id(self) -> int:
        return self.placeholder.id

    async def pump(self) -> ReplyOutcome | None:
        """Apply everything the engine produced since the last call."""
        for event in self.gen.drain():
            if isinstance(event, TextDelta):
                await self.widget.append_text(event.text)
                self._dirty = True
                self.tokens_seen += 1
            elif isinstance(event, ReasoningDelta):
                await self.widget.append_reasoning(event.text)
                self._dirty = True
            elif isinstance(event, ContextTrimmed):
                self._trimmed = event
            elif isinstance(event, Finished):
                return await self._finish(event)
            elif isinstance(event, Failed):
                return await self._fail(event)
        if self._dirty and self._clock() - self._last_checkpoint >= CHECKPOINT_SECONDS:
            self.checkpoint()
        return None

    def checkpoint(self) -> None:
        self.store.update_message(
            self.message_id, self.widget.text, reasoning=self.widget.reasoning
        )
        self._last_checkpoint = self._clock()
        self._dirty = False

    async def _finish(self, event: Finished) -> ReplyOutcome:
        stats = event.stats.to_dict()
        if self.seed is not None:
            stats["seed"] = self.seed
        self.store.update_message(
            self.message_id,
            event.text,
            reasoning=event.reasoning,
            stats=stats,
            finish_reason=event.reason,
        )
        message = replace(
            self.placeholder,
            content=event.text,
            reasoning=event.reasoning,
            stats=stats,
            finish_reason=event.reason,
        )
        await self.widget.finish(message)
        return ReplyOutcome(message, event, None, self._trimmed)

    async def _fail(self, event: Failed) -> ReplyOutcome:
        text = self.widget.text
        if not text:
            # Nothing was written: the answer never existed.
            self.store.delete_messages_from(self.placeholder.conversation_id, self.message_id)
            await self.widget.remove()
            return ReplyOutcome(None, None, event.message, self._trimmed)
        self.store.update_message(
            self.message_id, text, reasoning=self.widget.reasoning, finish_reason="stopped"
        )
        message = replace(
            self.placeholder, content=text, reasoning=self.widget.reasoning, finish_reason="stopped"
        )
        await self.widget.finish(message)
        self.widget.show_error(event.message)
        return ReplyOutcome(message, None, event.message, self._trimmed)


def with_seed(sampling: Sampling) -> Sampling:
    """Draw the seed here rather than in the engine, so the answer records it and
    "Answer again with…" can give another quantization the very same sampling."""
    if sampling.seed is not None:
        return sampling
    return replace(sampling, seed=random.getrandbits(31))
