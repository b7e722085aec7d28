"""The chat screen's actions that open another screen: rename, export, delete,
switch quantization, compare. A mixin of ChatScreen, kept apart so chat.py stays
about sending and streaming."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gguf_tui.chat.context import before_last_answer
from gguf_tui.tui.screens.dialogs import ConfirmScreen, ExportScreen, TextPromptScreen
from gguf_tui.tui.streaming import with_seed
from gguf_tui.tui.widgets.sidebar import ConversationList

if TYPE_CHECKING:
    from gguf_tui.tui.screens.chat import ChatScreen


class ConversationActions:
    """Mixed into ChatScreen; `self` is the screen."""

    def action_rename(self: ChatScreen) -> None:
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

    def action_export(self: ChatScreen) -> None:
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

    def action_pick_model(self: ChatScreen) -> None:
        self.app.action_pick_model()

    def action_switch_quant(self: ChatScreen) -> None:
        if self.app.engine.info is None:
            self.app.action_pick_model()
            return
        from gguf_tui.tui.screens.quant_switcher import QuantSwitcher

        def chosen(choice) -> None:
            if choice is not None:
                self.app.switch_to(choice)

        self.app.push_screen(QuantSwitcher(), chosen)

    def action_compare(self: ChatScreen) -> None:
        """Answer the last message again with another quantization, side by side."""
        app = self.app
        info = app.engine.info
        if self.reply is not None or self.conversation_id is None or info is None:
            return
        if info.server:
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
        original_path = info.path
        from gguf_tui.tui.screens.compare import KEEP_NEW, CompareResult, CompareScreen
        from gguf_tui.tui.screens.quant_switcher import QuantSwitcher

        async def kept(result: CompareResult | None) -> None:
            if result is not None and result.keep == KEEP_NEW and result.answer is not None:
                await self._replace_last_answer(original, result.answer)
                return
            # Kept the first answer, maybe while the other quantization was still
            # loading: once that load has ended, the first model is the one in use.
            now = await app.settled()
            if now is None or now.path != original_path:
                self.notify(f"Keeping the first answer; back to {original.quant}.")
                await app.load_model(original_path)
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

    async def _replace_last_answer(self: ChatScreen, original, answer) -> None:
        store = self.app.store
        cid = self.conversation_id

        def replace_answer() -> None:
            store.delete_messages_from(cid, original.id)
            store.add_message(
                cid,
                "assistant",
                answer.content,
                reasoning=answer.reasoning,
                model_file=answer.model_file,
                quant=answer.quant,
                stats=answer.stats,
                finish_reason=answer.finish_reason,
            )

        if not self.app.saved("keep the new answer", replace_answer):
            return
        await self.view.show(cid)
        self.notify(f"Keeping the {answer.quant} answer; the conversation continues with it.")

    def action_settings(self: ChatScreen) -> None:
        from gguf_tui.tui.screens.settings import open_settings

        open_settings(self.app)

    def action_conversation_settings(self: ChatScreen) -> None:
        if self.conversation_id is None:
            self.notify("Send a first message; then this conversation can have its own settings.")
            return
        from gguf_tui.tui.screens.settings import open_conversation_settings

        open_conversation_settings(self.app, self.conversation_id, self.show_header)

    async def action_load_conversation_model(self: ChatScreen) -> None:
        if self.conversation_id is not None:
            await self.app.load_conversation_model(self.conversation_id)

    # Named handler, not @on: Textual only collects @on handlers from message-pump classes.
    def on_conversation_list_delete_requested(
        self: ChatScreen, event: ConversationList.DeleteRequested
    ) -> None:
        self.delete_conversation(event.conversation_id)

    def action_delete_chat(self: ChatScreen) -> None:
        cid = self._target_conversation()
        if cid is not None:
            self.delete_conversation(cid)

    def delete_conversation(self: ChatScreen, cid: int) -> None:
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

    def _target_conversation(self: ChatScreen) -> int | None:
        """The highlighted sidebar entry when the sidebar has focus, else the open one."""
        option_list = self.sidebar.option_list
        if option_list.has_focus and option_list.highlighted_option is not None:
            return int(option_list.highlighted_option.id)
        return self.conversation_id
