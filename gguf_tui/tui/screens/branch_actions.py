"""The chat screen's actions on the conversation tree: versions of a message, editing
any message into a new version, continuing an answer, forking, deleting a version.

A mixin of `ChatScreen` (its keys and palette entries come from the key table like the
screen's own): the tree is one unit of behaviour, and the screen keeps sending,
streaming and the other screens. The store holds the tree (store/tree.py); the view
shows the branch the store says is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gguf_tui.store.errors import StoreError
from gguf_tui.store.records import Message
from gguf_tui.tui.screens.dialogs import ConfirmScreen
from gguf_tui.tui.text import literal

if TYPE_CHECKING:  # checked against what the chat screen gives it; at run time a mixin
    from textual.screen import Screen

    from gguf_tui.engine import Sampling
    from gguf_tui.tui.app import GgufTuiApp
    from gguf_tui.tui.streaming import ReplyStream
    from gguf_tui.tui.widgets.conversation import ConversationView
    from gguf_tui.tui.widgets.prompt import PromptArea
    from gguf_tui.tui.widgets.sidebar import Sidebar

    class _ChatParts(Screen):
        """What of ChatScreen these actions use."""

        app: GgufTuiApp
        conversation_id: int | None
        reply: ReplyStream | None
        _editing_id: int | None

        @property
        def view(self) -> ConversationView: ...
        @property
        def prompt(self) -> PromptArea: ...
        @property
        def sidebar(self) -> Sidebar: ...
        async def start_reply(
            self,
            sampling: Sampling | None = None,
            after: int | None = None,
            continuing: Message | None = None,
        ) -> None: ...
        async def open_conversation(self, conversation_id: int | None) -> None: ...
        async def _let_a_finished_reply_settle(self) -> None: ...
        def _count_context(self) -> None: ...

    _ScreenBase = _ChatParts
else:
    _ScreenBase = object


class BranchActions(_ScreenBase):
    """Versions, edit, continue, fork and delete (mixed into ChatScreen)."""

    def _edit(self, message: Message, which: str) -> None:
        """Put a message into the prompt; sending it makes a new version beside it."""
        self._editing_id = message.id
        self.prompt.value = literal(message.content)  # as it was shown
        self.prompt.move_cursor(self.prompt.document.end)
        self.notify(
            f"Editing {which}: enter sends it as a new version (the old one is kept, "
            "alt+left shows it), escape cancels."
        )

    # -- versions and branches -------------------------------------------------------------
    def _version_target(self) -> Message | None:
        """The highlighted message, else the last answer (else the last message)."""
        view = self.view
        widget = view.highlighted if view.highlighted in view.message_widgets else None
        if widget is None:
            widgets = view.message_widgets
            answers = [w for w in widgets if w.message.role == "assistant"]
            widget = answers[-1] if answers else (widgets[-1] if widgets else None)
        return widget.message if widget is not None else None

    def _busy(self, what: str) -> bool:
        """An answer is being written (said so): most changes to the branch wait for it."""
        if self.reply is not None:
            self.notify(f"An answer is being written: press escape first, then {what}.")
            return True
        return False

    async def action_previous_version(self) -> None:
        await self._step_version(-1)

    async def action_next_version(self) -> None:
        await self._step_version(+1)

    async def _step_version(self, step: int) -> None:
        await self._let_a_finished_reply_settle()
        if self.conversation_id is None or self._busy("switch versions"):
            return
        target = self._version_target()
        if target is None:
            return
        versions = self.app.store.siblings(target.id)
        if len(versions) < 2:
            self.notify(
                "This message has no other version: ctrl+r answers again, and editing "
                "a message of yours (up, or enter on it) makes one.",
                timeout=5,
            )
            return
        place = versions.index(target.id) + step if target.id in versions else 0
        if not 0 <= place < len(versions):
            end = "first" if step < 0 else "last"
            self.notify(
                f"This is the {end} version ({versions.index(target.id) + 1}/{len(versions)})."
            )
            return
        chosen = versions[place]
        if not self.app.saved("show that version", lambda: self.app.store.show_branch(chosen)):
            return
        await self._show_branch_at(chosen)

    async def _show_branch_at(self, message_id: int | None) -> None:
        """Redraw the branch shown, highlighting `message_id`; the model's context
        (what it is sent, the tokens counted) follows the branch shown."""
        assert self.conversation_id is not None
        focused = self.focused
        if message_id is not None:
            self.view.reveal_on_show(self.conversation_id, message_id, follow_last=True)
        await self.view.show(self.conversation_id)
        if focused is not None and focused.is_attached:
            focused.focus()
        self._editing_id = None
        self._count_context()
        self.sidebar.refresh_entry(self.conversation_id)

    def action_delete_branch(self) -> None:
        if self.conversation_id is None or self._busy("delete"):
            return
        view = self.view
        widget = view.highlighted if view.highlighted in view.message_widgets else None
        if widget is None:
            self.notify("Tab to the conversation and highlight the message to delete.")
            return
        target = widget.message
        store = self.app.store
        below = store.branch_size(target.id) - 1
        others = len(store.siblings(target.id)) - 1
        what = "this answer" if target.role == "assistant" else "this message of yours"
        question = f"Delete {what}" + (
            f" and the {below} message{'s' if below != 1 else ''} that follow it?" if below else "?"
        )
        if others:
            question += f" ({others} other version{' stays' if others == 1 else 's stay'}.)"

        async def answered(yes: bool | None) -> None:
            if not yes or self.conversation_id is None:
                return
            if not self.app.saved("delete", lambda: store.delete_branch(target.id)):
                return
            await self._show_branch_at(None)
            self.sidebar.reload(select=self.conversation_id)
            self.notify(f"Deleted {below + 1} message{'s' if below else ''}.")

        self.app.push_screen(ConfirmScreen(question), answered)

    async def action_fork_conversation(self) -> None:
        """A new conversation with the branch shown, down to the highlighted message."""
        if self.conversation_id is None or self._busy("fork"):
            return
        target = self._highlighted_or_last()
        if target is None:
            self.notify("Nothing to fork yet.")
            return
        store = self.app.store
        forked: list[int] = []
        if not self.app.saved("fork", lambda: forked.append(store.fork(target.id).id)):
            return
        self.sidebar.reload(select=forked[0])
        await self.open_conversation(forked[0])
        self.notify("Forked into a new conversation: it goes its own way from here.")

    def _highlighted_or_last(self) -> Message | None:
        view = self.view
        if view.highlighted in view.message_widgets and view.highlighted is not None:
            return view.highlighted.message
        assert self.conversation_id is not None
        last = self.app.store.messages(self.conversation_id, limit=1)
        return last[-1] if last else None

    async def action_continue_answer(self) -> None:
        """Let the model go on writing the last answer, in the same turn."""
        await self._let_a_finished_reply_settle()
        app = self.app
        if self.conversation_id is None or self._busy("continue"):
            return
        info = app.engine.info
        if info is None:
            self.notify("No model is loaded.", severity="warning")
            return
        last = app.store.messages(self.conversation_id, limit=1)
        answer = last[-1] if last else None
        if answer is None or answer.role != "assistant" or not answer.content:
            self.notify("There is no answer to continue: the conversation ends with your message.")
            return
        if answer.finish_reason == "stop":
            self.notify("This answer is complete (the model ended it): ctrl+r answers again.")
            return
        if info.is_remote:
            self.notify(
                "Continuing an answer needs a model loaded here: servers do not all resume "
                "a turn (they start a new one). ctrl+r answers again.",
                severity="warning",
                timeout=8,
            )
            return
        await self.start_reply(continuing=answer)

    def _versions_of(self, message: Message) -> tuple[int, int] | None:
        """(its place, how many) where a message has other versions, for its marker."""
        try:
            versions = self.app.store.siblings(message.id)
        except StoreError:
            return None
        if len(versions) < 2 or message.id not in versions:
            return None
        return versions.index(message.id) + 1, len(versions)
