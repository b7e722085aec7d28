"""Record one answer into the database while it is written: the store half of a reply.

The answer's row exists before the first token (the placeholder), so a crash leaves
an answer marked "interrupted" rather than a question without one. The growing text
is checkpointed twice a second, not per token (a write per token would cost more
than the answer), and the end writes the figures. No user interface here: the chat
screen and any other front end feed it the same events and show what it returns.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from gguf_tui.engine.events import ContextTrimmed, Failed, Finished
from gguf_tui.store.database import Store
from gguf_tui.store.errors import StoreError
from gguf_tui.store.records import Message

CHECKPOINT_SECONDS = 0.5
RETRY_SECONDS = 5.0  # after a failed save: each try may wait out the database's busy timeout


@dataclass
class ReplyOutcome:
    message: Message | None  # the answer as it ended, None when nothing was written
    finished: Finished | None
    error: str | None
    trimmed: ContextTrimmed | None
    saved: bool = True  # False: the last write failed, the answer is on screen only


class ReplyRecorder:
    """The answer's text so far and its row in the store.

    `store` None records nothing (compare's other answer is kept only if chosen); the
    outcome is the same. A write that fails (disk full, another instance holding the
    lock) sets `save_error`; `new_save_error` says so once, for the UI to report."""

    def __init__(
        self,
        placeholder: Message,
        store: Store | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        continuing: bool = False,
    ) -> None:
        self.placeholder = placeholder
        self.store = store
        self.seed = seed  # recorded with the answer, to answer again the same way
        # Continuing an answer: the placeholder is that answer, and the engine's text
        # goes on after what it holds (saved as one answer).
        self._before = (placeholder.content, placeholder.reasoning) if continuing else ("", "")
        self.text, self.reasoning = self._before
        self.trimmed: ContextTrimmed | None = None
        self.save_error: str | None = None  # why the last save failed, until one succeeds
        self.new_save_error = False  # the last save failed and the one before did not
        self._clock = clock
        self._last_checkpoint = clock()
        self._dirty = False

    @property
    def message_id(self) -> int:
        return self.placeholder.id

    def add_text(self, text: str) -> None:
        self.text += text
        self._dirty = True

    def add_reasoning(self, text: str) -> None:
        self.reasoning += text
        self._dirty = True

    def context_trimmed(self, event: ContextTrimmed) -> None:
        self.trimmed = event

    def tick(self) -> None:
        """Checkpoint the growing answer when one is due (after a failed save, later)."""
        wait = RETRY_SECONDS if self.save_error else CHECKPOINT_SECONDS
        if self._dirty and self._clock() - self._last_checkpoint >= wait:
            self.checkpoint()

    def checkpoint(self) -> None:
        if self._save(self.text, reasoning=self.reasoning):
            self._dirty = False
        self._last_checkpoint = self._clock()

    def _save(self, text: str, **fields) -> bool:
        if self.store is None:
            return True
        try:
            self.store.update_message(self.message_id, text, **fields)
        except StoreError as exc:
            self.new_save_error = self.save_error is None
            self.save_error = str(exc)
            return False
        self.save_error = None
        self.new_save_error = False
        return True

    def save_stopped(self) -> None:
        """Save the answer as far as it got, as stopped: the app is going away at once
        (its terminal closed). An answer with no text yet stays "interrupted"."""
        if (self.text, self.reasoning) != self._before:
            self._save(self.text, reasoning=self.reasoning, finish_reason="stopped")

    def finish(self, event: Finished) -> ReplyOutcome:
        """The answer ended: its final text and figures, written once."""
        stats = event.stats.to_dict()
        if self.seed is not None:
            stats["seed"] = self.seed
        if self._before != ("", ""):  # the figures are the last part's; how often it went on
            stats["continued"] = int((self.placeholder.stats or {}).get("continued", 0)) + 1
        text, reasoning = self._before[0] + event.text, self._before[1] + event.reasoning
        saved = self._save(text, reasoning=reasoning, stats=stats, finish_reason=event.reason)
        message = replace(
            self.placeholder,
            content=text,
            reasoning=reasoning,
            stats=stats,
            finish_reason=event.reason,
        )
        return ReplyOutcome(message, event, None, self.trimmed, saved)

    def fail(self, event: Failed) -> ReplyOutcome:
        """The answer failed: kept as far as it got ("stopped"), or, with no text at all,
        its row deleted (the answer never existed); a continued answer that got no
        further stays as it was."""
        if (self.text, self.reasoning) == self._before != ("", ""):
            return ReplyOutcome(self.placeholder, None, event.message, self.trimmed)
        if not self.text:
            if self.store is not None:
                with contextlib.suppress(StoreError):
                    self.store.delete_branch(self.message_id)
            return ReplyOutcome(None, None, event.message, self.trimmed)
        saved = self._save(self.text, reasoning=self.reasoning, finish_reason="stopped")
        message = replace(
            self.placeholder, content=self.text, reasoning=self.reasoning, finish_reason="stopped"
        )
        return ReplyOutcome(message, None, event.message, self.trimmed, saved)
