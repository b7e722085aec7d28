"""Move one reply from the engine into the chat view and the database.

The engine thread only appends to its Generation; this drains it about 30 times
a second on the UI side (a per-token call from the engine thread would make
generation wait on the UI), writes the batched text into the message widget,
and checkpoints the growing answer into SQLite twice a second, so a crash loses
at most the last moments of one answer.
"""

from __future__ import annotations

import contextlib
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
from gguf_tui.store.errors import StoreError
from gguf_tui.store.records import Message
from gguf_tui.tui.pacer import UpdatePacer
from gguf_tui.tui.widgets.messages import AssistantMessage

CHECKPOINT_SECONDS = 0.5
RETRY_SECONDS = 5.0  # after a failed save: each try may wait out the database's busy timeout


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
        self.pacer = UpdatePacer()  # how often the text is redrawn: see pacer.py
        self.save_error: str | None = None  # why the last save failed, until one succeeds

    @property
    def message_id(self) -> int:
        return self.placeholder.id

    async def pump(self) -> ReplyOutcome | None:
        """Apply everything the engine produced since the last call."""
        if not self.gen.done and not self.pacer.ready():
            return None  # the UI is over its CPU budget: the text waits a tick
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
        wait = RETRY_SECONDS if self.save_error else CHECKPOINT_SECONDS
        if self._dirty and self._clock() - self._last_checkpoint >= wait:
            self.checkpoint()
        return None

    def checkpoint(self) -> None:
        if self._save(self.widget.text, reasoning=self.widget.reasoning):
            self._dirty = False
        self._last_checkpoint = self._clock()

    def _save(self, text: str, **fields) -> bool:
        """Write the answer. A database that cannot be written (disk full, another
        instance holding the lock) is reported once; the answer stays on screen and the
        next checkpoint tries again, a little later."""
        try:
            self.store.update_message(self.message_id, text, **fields)
        except StoreError as exc:
            if self.save_error is None:
                self.widget.notify(
                    f"{exc}. The answer stays on screen; saving it is tried again.",
                    title="Not saved",
                    severity="error",
                    timeout=15,
                )
            self.save_error = str(exc)
            return False
        self.save_error = None
        return True

    async def _finish(self, event: Finished) -> ReplyOutcome:
        stats = event.stats.to_dict()
        if self.seed is not None:
            stats["seed"] = self.seed
        saved = self._save(
            event.text, reasoning=event.reasoning, stats=stats, finish_reason=event.reason
        )
        message = replace(
            self.placeholder,
            content=event.text,
            reasoning=event.reasoning,
            stats=stats,
            finish_reason=event.reason,
        )
        await self.widget.finish(message)
        if not saved:  # no later checkpoint will try again: say what is on screen only
            self.widget.show_error(f"not saved: {self.save_error}")
        return ReplyOutcome(message, event, None, self._trimmed)

    async def _fail(self, event: Failed) -> ReplyOutcome:
        text = self.widget.text
        if not text:
            # Nothing was written: the answer never existed.
            with contextlib.suppress(StoreError):
                self.store.delete_messages_from(self.placeholder.conversation_id, self.message_id)
            await self.widget.remove()
            return ReplyOutcome(None, None, event.message, self._trimmed)
        self._save(text, reasoning=self.widget.reasoning, finish_reason="stopped")
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
