"""Move one reply from the engine into a message widget (and, through its recorder,
the database): the one consumer of a `Generation` for the chat and for compare.

The engine thread only appends to its Generation; this drains it about 20 times
a second on the UI side (a per-token call from the engine thread would make
generation wait on the UI), writes the batched text into the message widget at
the pace the UI can afford (pacer.py), and hands every event to a `ReplyRecorder`
(gguf_tui/chat/recorder.py), which checkpoints the growing answer into SQLite
twice a second, so a crash loses at most the last moments of one answer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace

from textual.message_pump import MessagePump
from textual.timer import Timer

from gguf_tui.chat.recorder import ReplyOutcome, ReplyRecorder
from gguf_tui.engine import (
    ContextTrimmed,
    Failed,
    Finished,
    Generation,
    ReasoningDelta,
    Sampling,
    TextDelta,
)
from gguf_tui.tui.pacer import UpdatePacer
from gguf_tui.tui.widgets.messages import AssistantMessage

__all__ = ["PUMP_HZ", "ReplyOutcome", "ReplyStream", "with_seed"]

PUMP_HZ = 20
STOP_WAIT_SECONDS = 30  # how long stopping waits for the engine to end the answer

Done = Callable[[ReplyOutcome], Awaitable[None]]


class ReplyStream:
    """One answer in flight: `start()` drains it on a timer until it ends; `done` then
    gets the outcome, once. `pump()` is one drain (tests and `stop()` use it)."""

    def __init__(
        self,
        gen: Generation,
        widget: AssistantMessage,
        recorder: ReplyRecorder,
        remove_empty: bool = True,
    ) -> None:
        self.gen = gen
        self.widget = widget
        self.recorder = recorder
        self.remove_empty = remove_empty  # a failed answer without text unmounts its widget
        self.pacer = UpdatePacer()  # how often the text is redrawn: see pacer.py
        self.outcome: ReplyOutcome | None = None
        self._lock = asyncio.Lock()  # the timer and stop() never drain at the same time
        self._timer: Timer | None = None
        self._done: Done | None = None

    @property
    def message_id(self) -> int:
        return self.recorder.message_id

    @property
    def seed(self) -> int | None:
        return self.recorder.seed

    def start(self, owner: MessagePump, done: Done) -> None:
        """Drain on `owner`'s timer (a screen: it stops when the screen goes)."""
        self._done = done
        self._timer = owner.set_interval(1 / PUMP_HZ, self._tick)

    async def _tick(self) -> None:
        if self.outcome is None:
            await self.pump()

    async def stop(self) -> None:
        """Stop the answer and wait until it is recorded (and `done` has run)."""
        if self.outcome is not None:
            return
        self.gen.stop()
        await asyncio.get_running_loop().run_in_executor(None, self.gen.result, STOP_WAIT_SECONDS)
        while self.outcome is None:
            await self.pump()

    def save_now(self) -> None:
        """Stop the answer and save what the engine wrote of it, drawing nothing: for a
        closed terminal, when the app leaves without its event loop."""
        if self.outcome is not None:
            return
        self.gen.stop()
        for event in self.gen.drain():
            if isinstance(event, TextDelta):
                self.recorder.add_text(event.text)
            elif isinstance(event, ReasoningDelta):
                self.recorder.add_reasoning(event.text)
        self.recorder.save_stopped()

    async def pump(self) -> ReplyOutcome | None:
        """Apply everything the engine produced since the last call."""
        async with self._lock:
            if self.outcome is not None:
                return self.outcome
            if not self.gen.done and not self.pacer.ready():
                return None  # the UI is over its CPU budget: the text waits a tick
            outcome = await self._drain()
            if outcome is None:
                return None
            self.outcome = outcome
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
        if self._done is not None:
            await self._done(outcome)
        return outcome

    async def _drain(self) -> ReplyOutcome | None:
        recorder = self.recorder
        for event in self.gen.drain():
            if isinstance(event, TextDelta):
                recorder.add_text(event.text)
                await self.widget.append_text(event.text)
            elif isinstance(event, ReasoningDelta):
                recorder.add_reasoning(event.text)
                await self.widget.append_reasoning(event.text)
            elif isinstance(event, ContextTrimmed):
                recorder.context_trimmed(event)
            elif isinstance(event, Finished):
                return await self._finish(event)
            elif isinstance(event, Failed):
                return await self._fail(event)
        recorder.tick()
        self._report_save_error()
        return None

    def _report_save_error(self) -> None:
        """A database that cannot be written is said once; the answer stays on screen
        and the next checkpoint tries again, a little later."""
        if self.recorder.new_save_error:
            self.recorder.new_save_error = False
            self.widget.notify(
                f"{self.recorder.save_error}. The answer stays on screen; saving it is "
                "tried again.",
                title="Not saved",
                severity="error",
                timeout=15,
            )

    async def _finish(self, event: Finished) -> ReplyOutcome:
        outcome = self.recorder.finish(event)
        self._report_save_error()
        assert outcome.message is not None
        await self.widget.finish(outcome.message)
        if not outcome.saved:  # no later checkpoint will try again: say what is on screen only
            self.widget.show_error(f"not saved: {self.recorder.save_error}")
        return outcome

    async def _fail(self, event: Failed) -> ReplyOutcome:
        outcome = self.recorder.fail(event)
        if outcome.message is None:
            if self.remove_empty:
                await self.widget.remove()
            else:
                self.widget.show_error(event.message)
            return outcome
        self._report_save_error()
        await self.widget.finish(outcome.message)
        self.widget.show_error(event.message)
        return outcome


def with_seed(sampling: Sampling) -> Sampling:
    """Draw the seed here rather than in the engine, so the answer records it and
    "Answer again with…" can give another quantization the very same sampling."""
    if sampling.seed is not None:
        return sampling
    return replace(sampling, seed=random.getrandbits(31))
