"""The chat screen: sidebar, conversation, prompt, status line."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from gguf_tui.chat.context import (
    before_last_answer,
    model_messages,
    system_prompt_for,
)
from gguf_tui.chat.recorder import ReplyRecorder
from gguf_tui.config.settings import save_state
from gguf_tui.engine import Sampling
from gguf_tui.store.database import LEAF
from gguf_tui.store.errors import StoreError
from gguf_tui.store.records import Message
from gguf_tui.tui.downloads import DownloadTask
from gguf_tui.tui.keymap import CHAT_ACTIONS, to_bindings
from gguf_tui.tui.scoring import ConversationScoring
from gguf_tui.tui.screens.branch_actions import BranchActions
from gguf_tui.tui.screens.dialogs import ConfirmScreen, ExportScreen, TextPromptScreen
from gguf_tui.tui.state import FAILED, READY, LoadState
from gguf_tui.tui.streaming import ReplyOutcome, ReplyStream, with_seed
from gguf_tui.tui.text import CELL_STYLES, literal
from gguf_tui.tui.widgets.conversation import ConversationView, CopyActions
from gguf_tui.tui.widgets.messages import AssistantMessage
from gguf_tui.tui.widgets.prompt import PromptArea
from gguf_tui.tui.widgets.sidebar import ConversationList, Sidebar
from gguf_tui.tui.widgets.status import StatusLine

if TYPE_CHECKING:
    from gguf_tui.tui.app import GgufTuiApp


class ChatScreen(BranchActions, CopyActions, Screen):
    BINDINGS = to_bindings(CHAT_ACTIONS)
    CSS_PATH = "chat.tcss"
    AUTO_FOCUS = "PromptArea"

    app: GgufTuiApp

    def __init__(self, initial_conversation: int | None = None) -> None:
        super().__init__()
        self._initial_conversation = initial_conversation
        self.conversation_id: int | None = None
        self.reply: ReplyStream | None = None
        self._context_timer: Timer | None = None
        self._editing_id: int | None = None  # the user message being edited, if any
        self._told_trimmed: set[int] = set()

    def compose(self) -> ComposeResult:
        store = self.app.store
        with Horizontal():
            yield Sidebar(store, id="sidebar")
            with Vertical(id="main"):
                yield Static("", id="conversation-header", markup=False)
                yield ConversationView(store, id="conversation")
                yield PromptArea(id="prompt")
                yield StatusLine(id="status")
        yield Footer()

    @property
    def view(self) -> ConversationView:
        return self.query_one(ConversationView)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    @property
    def prompt(self) -> PromptArea:
        return self.query_one(PromptArea)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    async def on_mount(self) -> None:
        self.scoring = ConversationScoring(self.app, self.show_header)
        self.sidebar.reload()
        self.status.set_model(self.app.engine.info)
        await self.view.show(None)
        # What the app publishes, observed here: the load and the download in flight.
        self.watch(self.app, "load_state", self._load_changed, init=False)
        self.watch(self.app, "download", self._download_changed, init=False)
        self.watch(self.app, "narrow", self._width_crossed, init=False)
        if self._initial_conversation is not None:
            await self.open_conversation(self._initial_conversation)

    def _load_changed(self, load: LoadState) -> None:
        self.status.load = load
        if load.phase == READY:
            self.after_model_change()
        elif load.phase == FAILED:  # the previous model, if any, is back
            self.status.set_model(self.app.engine.info)

    def _width_crossed(self) -> None:
        """Crossing the narrow breakpoint gives the sidebar back to its rule for the new
        size (folded when narrow), even if ctrl+b showed or hid it by hand before."""
        try:
            self.sidebar.styles.clear_rule("display")
        except NoMatches:  # closing
            return

        def keep_focus_visible() -> None:
            with contextlib.suppress(NoMatches):
                if not self.sidebar.display and self.sidebar.has_focus_within:
                    self.prompt.focus()

        self.call_after_refresh(keep_focus_visible)

    def _download_changed(self, task: DownloadTask | None) -> None:
        self.status.detail = task.describe() if task is not None and task.active else ""

    # -- opening conversations ----------------------------------------------------------
    async def open_conversation(self, conversation_id: int | None) -> None:
        await self.finish_reply()
        self._editing_id = None
        self.conversation_id = conversation_id
        await self.view.show(conversation_id)
        self.show_header()
        self.status.context_used = 0
        if conversation_id is not None:
            save_state(self.app.paths, last_conversation=conversation_id)
            if conversation_id not in self.sidebar.ids:
                self.sidebar.reload()
            self.sidebar.highlight(conversation_id)
            self.app.models.offer_conversation_model(conversation_id)
            self._count_context()

    def show_header(self) -> None:
        """The conversation's title and its own settings, when it has any; and under it,
        what is unusual about the model in use (no chat template, so a format chosen
        from its architecture; no GPU build …): a notice that stays while it applies."""
        header = self.query_one("#conversation-header", Static)
        conv = (
            self.app.store.get_conversation(self.conversation_id) if self.conversation_id else None
        )
        text = (conv.title if conv else "") or "New conversation"
        overrides = [
            f"{key} {'set' if key == 'system_prompt' else value}"
            for key, value in (conv.settings.items() if conv else ())
        ]
        if overrides:
            text += "  ·  own settings: " + ", ".join(overrides) + " (f4)"
        info = self.app.engine.info
        line = Text(literal(text))
        quality = self.scoring.header_line(self.conversation_id)
        if quality:
            line.append(f"\n{literal(quality)}", style="dim")
        for note in info.notes if info else ():
            line.append(f"\n⚠ {literal(note)}", style=CELL_STYLES["warn"])
        header.update(line)

    def after_model_change(self) -> None:
        """A new model is loaded: re-read the open conversation into its context now,
        so the next answer does not pay the whole prompt cost at once."""
        self.status.set_model(self.app.engine.info)
        self.show_header()
        self._count_context()
        if self.conversation_id is not None and self.app.engine.info is not None:
            self.app.engine.prefill(self.model_messages(), cache_key=self.conversation_id)

    def _count_context(self) -> None:
        """Show how much of the window the open conversation fills (counted by the engine)."""
        if self.app.engine.info is not None and self.conversation_id is not None:
            self.run_worker(self._count(self.model_messages()), group="count", exclusive=True)

    async def _count(self, messages: list[dict[str, str]]) -> None:
        try:
            used = await asyncio.wrap_future(self.app.engine.count_tokens(messages))
        except Exception:  # the model was unloaded meanwhile: nothing to show
            used = 0
        if self.is_attached and self.query(StatusLine):  # not while the app closes
            self.status.context_used = used

    @on(Sidebar.Opened)
    async def _sidebar_opened(self, event: Sidebar.Opened) -> None:
        self.prompt.focus()  # first: a key typed while it opens goes where the user expects
        await self.open_conversation(event.conversation_id)

    # -- sending -----------------------------------------------------------------------------
    @on(PromptArea.Submitted)
    async def _submitted(self, event: PromptArea.Submitted) -> None:
        await self.send(event.text)

    async def send(self, text: str) -> None:
        app = self.app
        await self._let_a_finished_reply_settle()
        if self.reply is not None:
            self.notify("An answer is still being written: press escape to stop it first.")
            return
        if app.engine.info is None:
            why = "The model is still loading." if app.models.loading else "No model is loaded."
            self.notify(f"{why} Your message is kept in the prompt.", severity="warning")
            return
        store = app.store
        try:  # a full disk or another instance holding the lock: say so, keep the text
            if self.conversation_id is None:
                info = app.engine.info
                conv = store.create_conversation(model_file=info.model_file, quant=info.quant)
                self.conversation_id = conv.id
                self.view.conversation_id = conv.id
                save_state(app.paths, last_conversation=conv.id)
            parent: int | Literal["leaf"] | None = LEAF
            if self._editing_id is not None:  # a new version of it: the old one is kept
                edited = store.message(self._editing_id)
                parent = edited.parent_id if edited is not None else LEAF
            message = store.add_message(self.conversation_id, "user", text, parent_id=parent)
        except StoreError as exc:
            self.notify(
                f"{exc}. Your message is kept in the prompt: send it again later.",
                title="Not sent",
                severity="error",
                timeout=15,
            )
            return
        if self._editing_id is not None:
            await self.view.remove_from(self._editing_id)
            self._editing_id = None
        if self.conversation_id not in self.sidebar.ids:
            self.sidebar.reload(select=self.conversation_id)  # a new chat shows at once
        self.prompt.clear()
        await self.view.add_message(message, versions=self._versions_of(message))
        self.view.anchor()
        self.show_header()
        await self._use_conversation_context_size()
        await self.start_reply()

    async def _use_conversation_context_size(self) -> None:
        """A conversation with its own n_ctx, KV-cache types or flash attention gets the
        model reloaded with them (app.models.use_conversation_settings)."""
        conv = (
            self.app.store.get_conversation(self.conversation_id) if self.conversation_id else None
        )
        if conv is not None:
            await self.app.models.use_conversation_settings(conv.settings)

    def model_messages(self, upto: int | None = None) -> list[dict[str, str]]:
        """What the model sees of the open conversation: the branch shown, or the one
        down to message `upto` (rules in chat/context.py)."""
        assert self.conversation_id is not None
        store = self.app.store
        conv = store.get_conversation(self.conversation_id)
        system = system_prompt_for(conv.settings if conv else {}, self.app.system_prompt)
        saved = store.messages(self.conversation_id) if upto is None else store.branch_to(upto)
        return model_messages(saved, system)

    async def start_reply(
        self,
        sampling: Sampling | None = None,
        after: int | None = None,
        continuing: Message | None = None,
    ) -> None:
        """Answer the end of the branch shown; given `after`, the message `after` (a new
        version beside the answers it has: regenerate); given `continuing`, go on
        writing that answer (the last of the branch shown)."""
        app = self.app
        info = app.engine.info
        if info is None or self.conversation_id is None:
            return
        messages = self.model_messages(after)  # read before the placeholder: not for the model
        if continuing is not None:
            placeholder = continuing
            await self.view.remove_from(continuing.id)
        else:
            try:
                placeholder = app.store.add_message(
                    self.conversation_id,
                    "assistant",
                    "",
                    model_file=info.model_file,
                    quant=info.quant,
                    parent_id=LEAF if after is None else after,
                )
            except StoreError as exc:
                self.notify(f"{exc}. No answer was started.", severity="error", timeout=15)
                return
        versions = self._versions_of(placeholder)
        widget = await self.view.add_message(placeholder, streaming=True, versions=versions)
        assert isinstance(widget, AssistantMessage)
        sampling = with_seed(sampling or app.sampling_for(self.conversation_id))
        gen = app.engine.chat(messages, sampling, cache_key=self.conversation_id)
        recorder = ReplyRecorder(
            placeholder, app.store, seed=sampling.seed, continuing=continuing is not None
        )
        self.reply = ReplyStream(gen, widget, recorder)
        self.status.state = "generating"
        self.app.answer.begin(self.finish_reply)  # quitting or a load stops it, saved
        self.reply.start(self, self._reply_done)
        # The context fills as the answer is written: shown twice a second, not per
        # token (a status line redraw per drain would cost more than the count is worth).
        self._context_timer = self.set_interval(0.5, self._show_context_used)

    async def _let_a_finished_reply_settle(self) -> None:
        """An answer the engine has finished may still be being saved and rendered for a
        frame or two; a message sent in that moment (a line typed right after the answer,
        in one burst) waits for it instead of being refused."""
        reply = self.reply
        if reply is None or not reply.gen.done:
            return
        await reply.stop()  # the engine is done: this only waits for the recording
        for _ in range(100):  # `done` runs right after the outcome is set
            if self.reply is not reply:
                return
            await asyncio.sleep(0.01)

    def _show_context_used(self) -> None:
        if self.reply is not None and self.reply.gen.context_used:
            self.status.context_used = self.reply.gen.context_used

    async def _reply_done(self, outcome: ReplyOutcome) -> None:
        if self._context_timer is not None:
            self._context_timer.stop()
            self._context_timer = None
        self.reply = None
        self.app.answer.end(self.finish_reply)
        self.status.state = "idle"
        cid = self.conversation_id
        if outcome.trimmed is not None and cid is not None and cid not in self._told_trimmed:
            self._told_trimmed.add(cid)
            self.notify(
                f"The oldest {outcome.trimmed.dropped_messages} messages no longer fit "
                "the context window; the model no longer sees them (they are kept here).",
                title="Context window",
                timeout=8,
            )
        if outcome.finished is not None:
            stats = outcome.finished.stats
            self.status.last_speed = stats.generation_tokens_per_second
            self.status.context_used = stats.prompt_tokens + stats.generated_tokens
        if outcome.error:
            self.notify(outcome.error, title="The answer failed", severity="error", timeout=10)
        if cid is not None:
            self.sidebar.reload(select=cid)

    async def finish_reply(self) -> None:
        """Stop the answer in progress and wait until it is saved."""
        if self.reply is not None:
            await self.reply.stop()

    # -- actions -----------------------------------------------------------------------------
    async def action_stop(self) -> None:
        if self.app.models.cancel_load():
            self.notify("Cancelling the load …")
        elif self.reply is not None:
            self.reply.gen.stop()
        elif self.scoring.stop():
            self.notify("Stopping the scoring after this chunk …")
        elif self._editing_id is not None:
            self._editing_id = None
            self.prompt.clear()
            self.notify("Edit cancelled.")
        elif self.focused is self.query_one("#search", Input):
            self.sidebar.close_search()
            self.prompt.focus()

    def action_score_conversation(self) -> None:
        """Measure the quant in use against its reference on this conversation's text."""
        self.scoring.start(self.conversation_id)

    def on_unmount(self) -> None:
        self.scoring.stop()  # quitting never waits for a whole scoring run

    async def action_new_chat(self) -> None:
        await self.open_conversation(None)
        self.prompt.focus()

    async def action_previous_chat(self) -> None:
        await self._step_chat(-1)

    async def action_next_chat(self) -> None:
        await self._step_chat(+1)

    async def _step_chat(self, step: int) -> None:
        target = self.sidebar.neighbour(self.conversation_id, step)
        if target is not None and target != self.conversation_id:
            await self.open_conversation(target)

    async def action_regenerate(self) -> None:
        await self._let_a_finished_reply_settle()  # ctrl+r right as an answer ends
        if self.conversation_id is None or self._busy("answer again"):
            return
        messages = self.app.store.messages(self.conversation_id, limit=1)
        if not messages:
            return
        last = messages[-1]
        after = None
        if last.role == "assistant":  # a new version beside it: the old one is kept
            await self.view.remove_from(last.id)
            after = last.parent_id
        base = self.app.sampling_for(self.conversation_id)
        await self.start_reply(replace(base, seed=random.getrandbits(31)), after=after)

    @on(PromptArea.EditLast)
    def _edit_last(self) -> None:
        if self.reply is not None or self.conversation_id is None:
            return
        for message in reversed(self.app.store.messages(self.conversation_id, limit=4)):
            if message.role == "user":
                self._edit(message, "your last message")
                return

    @on(ConversationView.EditRequested)
    def _edit_requested(self, event: ConversationView.EditRequested) -> None:
        if self.reply is not None:
            self.notify("An answer is still being written: press escape to stop it first.")
            return
        self._edit(event.message, "this message")
        self.prompt.focus()

    def action_toggle_sidebar(self) -> None:
        sidebar = self.sidebar
        sidebar.display = not sidebar.display
        if not sidebar.display and sidebar.has_focus_within:
            self.prompt.focus()

    def action_search(self) -> None:
        self.sidebar.display = True
        self.sidebar.open_search()

    # -- actions that open another screen: rename, export, delete, switch, compare ----------

    def action_rename(self) -> None:
        cid = self._target_conversation()
        if cid is None:
            return
        conv = self.app.store.get_conversation(cid)

        def renamed(title: str | None) -> None:
            store = self.app.store
            new = (title or "").strip()
            if new and self.app.saved("rename", lambda: store.rename_conversation(cid, new)):
                self.sidebar.refresh_entry(cid)
                self.show_header()

        self.app.push_screen(
            TextPromptScreen("Rename the conversation", conv.title if conv else ""), renamed
        )

    def action_export(self) -> None:
        cid = self.conversation_id
        if cid is None:
            self.notify("Nothing to export yet.")
            return
        conv = self.app.store.get_conversation(cid)
        stem = "".join(c if c.isalnum() else "-" for c in (conv.title if conv else "chat"))[:40]

        def chosen(result: tuple[str, Path] | None) -> None:
            if result is not None:
                self.app.export_conversation(cid, *result)

        self.app.push_screen(ExportScreen(stem.strip("-") or "conversation"), chosen)

    def action_pick_model(self) -> None:
        self.app.action_pick_model()

    def action_switch_quant(self) -> None:
        if self.app.engine.info is None:
            self.app.action_pick_model()
            return
        from gguf_tui.tui.screens.quant_switcher import QuantSwitcher

        def chosen(choice) -> None:
            if choice is not None:
                cid = self.conversation_id
                conv = self.app.store.get_conversation(cid) if cid is not None else None
                self.app.models.switch_to(choice, conv.settings if conv else None)

        self.app.push_screen(QuantSwitcher(), chosen)

    def action_compare(self) -> None:
        """Answer the last message again with another quantization, side by side."""
        app = self.app
        info = app.engine.info
        if self.reply is not None or self.conversation_id is None or info is None:
            return
        original_path = info.path
        if original_path is None:
            self.notify("Comparing quantizations needs a local model.")
            return
        stored = app.store.messages(self.conversation_id)
        if len(stored) < 2 or stored[-1].role != "assistant":
            self.notify("There is no answer to compare yet.")
            return
        original = stored[-1]
        before = before_last_answer(self.model_messages())
        seed = (original.stats or {}).get("seed")
        sampling = with_seed(replace(app.sampling_for(self.conversation_id), seed=seed))
        from gguf_tui.tui.screens.compare import KEEP_NEW, CompareResult, CompareScreen
        from gguf_tui.tui.screens.quant_switcher import QuantSwitcher

        async def kept(result: CompareResult | None) -> None:
            if result is not None and result.keep == KEEP_NEW and result.answer is not None:
                await self._replace_last_answer(original, result.answer)
                return
            if result is not None and result.answer is not None:  # both kept, the first shown
                await self._replace_last_answer(original, result.answer, show_it=False)
            # Kept the first answer, maybe while the other quantization was still
            # loading: once that load has ended, the first model is the one in use.
            now = await app.models.settled()
            if now is None or now.path != original_path:
                self.notify(f"Keeping the first answer; back to {original.quant}.")
                await app.models.load(original_path)
            else:
                self.after_model_change()

        def chosen(choice) -> None:
            if choice is None:
                return
            if choice.path is None:
                self.notify(f"Download {choice.quant} first (f3), then compare.")
                return
            if choice.path == original_path:
                self.notify("Choose another quantization than the one in use.")
                return
            app.push_screen(CompareScreen(original, before, choice.path, sampling), kept)

        app.push_screen(QuantSwitcher("Answer again with…"), chosen)

    async def _replace_last_answer(
        self, original: Message, answer: Message, show_it: bool = True
    ) -> None:
        """Keep the compared answer as a version beside the first one, shown or not."""
        store = self.app.store
        cid = self.conversation_id
        assert cid is not None  # compare answers again in the open conversation

        def replace_answer() -> None:
            store.add_message(  # a version beside the first answer
                cid,
                "assistant",
                answer.content,
                reasoning=answer.reasoning,
                model_file=answer.model_file,
                quant=answer.quant,
                stats=answer.stats,
                finish_reason=answer.finish_reason,
                parent_id=original.parent_id,
            )
            if not show_it:
                store.show_branch(original.id)

        if not self.app.saved("keep the new answer", replace_answer):
            return
        await self.view.show(cid)
        if show_it:
            self.notify(
                f"Keeping the {answer.quant} answer; the conversation continues with it "
                "(alt+left shows the first one)."
            )
        else:
            self.notify(
                f"Keeping the {original.quant} answer; the {answer.quant} one is kept "
                "as another version (alt+right)."
            )

    def action_settings(self) -> None:
        from gguf_tui.tui.screens.settings import open_settings

        open_settings(self.app)

    def action_conversation_settings(self) -> None:
        if self.conversation_id is None:
            self.notify("Send a first message; then this conversation can have its own settings.")
            return
        from gguf_tui.tui.screens.settings import open_conversation_settings

        open_conversation_settings(self.app, self.conversation_id, self.show_header)

    async def action_load_conversation_model(self) -> None:
        if self.conversation_id is not None:
            await self.app.models.load_conversation_model(self.conversation_id)

    # Named handler, not @on: Textual only collects @on handlers from message-pump classes.
    def on_conversation_list_delete_requested(
        self, event: ConversationList.DeleteRequested
    ) -> None:
        self.delete_conversation(event.conversation_id)

    def action_delete_chat(self) -> None:
        cid = self._target_conversation()
        if cid is not None:
            self.delete_conversation(cid)

    def delete_conversation(self, cid: int) -> None:
        conv = self.app.store.get_conversation(cid)
        if conv is None:
            return

        async def answered(yes: bool | None) -> None:
            if not yes:
                return
            if not self.app.saved("delete", lambda: self.app.store.delete_conversation(cid)):
                return
            self.app.engine.forget(cid)  # its kept KV cache is of no use any more
            if cid == self.conversation_id:
                await self.open_conversation(None)
            self.sidebar.reload()
            self.notify(f"Deleted “{conv.title or 'New conversation'}”.")

        self.app.push_screen(
            ConfirmScreen(
                f"Delete “{conv.title or 'New conversation'}” and its "
                f"{conv.message_count} messages?"
            ),
            answered,
        )

    def _target_conversation(self) -> int | None:
        """The highlighted sidebar entry when the sidebar has focus, else the open one."""
        option_list = self.sidebar.option_list
        option = option_list.highlighted_option if option_list.has_focus else None
        if option is not None and option.id is not None:
            return int(option.id)
        return self.conversation_id
