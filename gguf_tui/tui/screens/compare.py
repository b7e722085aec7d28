""" "Answer again with…": the last answer beside another quantization's answer.

The other quantization is loaded in place of the current one (two models never
share memory), answers the same prompt with the same sampling and seed, and the
two answers are shown side by side with their figures. The user keeps one: the
conversation continues from it, with the model that wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from gguf_tui.chat.divergence import first_difference
from gguf_tui.chat.recorder import ReplyOutcome, ReplyRecorder
from gguf_tui.engine import Generation, Sampling
from gguf_tui.store.records import Message
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.streaming import ReplyStream
from gguf_tui.tui.text import literal
from gguf_tui.tui.widgets.messages import AssistantMessage

if TYPE_CHECKING:
    from pathlib import Path

    from gguf_tui.tui.app import GgufTuiApp

KEEP_ORIGINAL, KEEP_NEW = "original", "new"


@dataclass
class CompareResult:
    keep: str  # KEEP_ORIGINAL or KEEP_NEW
    answer: Message | None  # the new answer (unsaved), when it finished: kept as a version


class CompareScreen(ModalScreen[CompareResult]):
    BINDINGS = to_bindings(keymap.COMPARE_ACTIONS)
    app: GgufTuiApp

    def __init__(
        self, original: Message, messages: list[dict[str, str]], other: Path, sampling: Sampling
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.original = original
        self.messages = messages
        self.other = other
        self.sampling = sampling
        self.new_answer: Message | None = None
        self._gen: Generation | None = None
        self.reply: ReplyStream | None = None
        self._keep_new_when_done = False  # "2" pressed while the answer was written
        self._failed = ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog compare"):
            yield Label(
                "Answer again with another quantization: same prompt, sampling and "
                f"seed ({self.sampling.seed})",
                markup=False,
            )
            with Horizontal():
                with VerticalScroll(classes="side"):
                    yield Static(
                        f"1 · {self.original.quant or '?'} (now)",
                        classes="side-title",
                        markup=False,
                    )
                    yield AssistantMessage(self.original)
                with VerticalScroll(classes="side", id="new-side"):
                    yield Static(f"2 · {self.other.name}", classes="side-title", markup=False)
                    yield Static("loading …", id="new-status", markup=False)
            # Where the two answers part, once the other one is written.
            yield Static("", id="parting", markup=False)
            yield Footer()

    def on_mount(self) -> None:
        self.answer_again()

    @work(exclusive=True)
    async def answer_again(self) -> None:
        app = self.app
        info = await app.models.load(self.other)
        status = self.query_one("#new-status", Static)
        if info is None:
            status.update(f"Cannot load it: {app.models.last_load_error}")
            return
        self.query_one("#new-side .side-title", Static).update(f"2 · {info.quant}")
        placeholder = replace(
            self.original,
            id=-1,
            content="",
            reasoning="",
            stats=None,
            finish_reason=None,
            model_file=info.model_file,
            quant=info.quant,
        )
        widget = AssistantMessage(placeholder, streaming=True)
        await status.remove()
        await self.query_one("#new-side").mount(widget)
        self._gen = gen = app.engine.chat(self.messages, self.sampling)
        # The same consumer as the chat (pacing, events), with a recorder that saves
        # nothing: the other answer is kept only if the user chooses it.
        recorder = ReplyRecorder(placeholder, store=None, seed=self.sampling.seed)
        self.reply = ReplyStream(gen, widget, recorder, remove_empty=False)
        self.reply.start(self, self._answered)

    async def _answered(self, outcome: ReplyOutcome) -> None:
        if outcome.trimmed is not None:
            self.notify(
                f"The oldest {outcome.trimmed.dropped_messages} messages did not fit the "
                "other model's context window; it answered without them.",
                title="Context window",
                timeout=8,
            )
        if outcome.error:
            self._failed = outcome.error
            return
        self.new_answer = outcome.message
        if outcome.message is not None:
            self._show_parting(outcome.message.content)
        if self._keep_new_when_done:
            self.action_keep(KEEP_NEW)

    def _show_parting(self, other: str) -> None:
        """Mark where the other answer first differs from the first one."""
        if not other:
            return
        d = first_difference(self.original.content, other)
        line = d.summary()
        if not d.identical:
            if d.before:
                line += f" Then, after “…{d.before}”:"
            line += f"\n  1 “{d.left or '(the end)'}…”\n  2 “{d.right or '(the end)'}…”"
        self.query_one("#parting", Static).update(literal(line))

    def action_keep(self, which: str) -> None:
        """1 / escape keep the first answer (stopping the other, or its load); 2 keeps
        the other one, at once when it is written, else as far as it gets once stopped."""
        if which == KEEP_ORIGINAL and self.app.models.cancel_load():
            # Still loading the other quantization: the engine puts the first back.
            self.dismiss(CompareResult(which, None))
            return
        gen = self._gen if self._gen is not None and not self._gen.done else None
        if which == KEEP_ORIGINAL:
            if gen is not None:
                gen.stop()
            # A finished other answer is kept too, as a version beside the first (shown).
            done = self.new_answer if gen is None and self.new_answer is not None else None
            self.dismiss(CompareResult(which, done if done and done.content else None))
            return
        if self.new_answer is not None and self.new_answer.content:
            self.dismiss(CompareResult(which, self.new_answer))
        elif self.new_answer is not None:
            self.notify("The other answer was stopped before its first token: nothing to keep.")
        elif gen is not None:
            self._keep_new_when_done = True
            gen.stop()
            self.notify("Stopping the other answer; it is kept as far as it got.")
        elif self._failed:
            self.notify(f"The other answer failed ({self._failed}): nothing to keep.")
        else:
            self.notify("The other answer is not ready yet.")
