"""The scrolling conversation, with a bounded number of mounted message widgets.

Every mounted widget costs layout time on every streamed update, so only the
newest messages are mounted; older ones are read from the store when the user
scrolls to the top, and the oldest are unmounted again as the chat grows.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from gguf_tui.store.database import Store
from gguf_tui.store.records import Message
from gguf_tui.tui.widgets.messages import AssistantMessage, message_widget

PAGE = 30  # messages mounted when a conversation opens, and per scroll-up
MAX_MOUNTED = 80


class ConversationView(VerticalScroll, can_focus=True):
    """The messages of one conversation, newest at the bottom."""

    def __init__(self, store: Store, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.conversation_id: int | None = None
        self.has_older = False
        self._loading_older = False

    # -- opening ---------------------------------------------------------------------
    async def show(self, conversation_id: int | None) -> None:
        """Replace the view with the newest messages of a conversation."""
        self.conversation_id = conversation_id
        await self.remove_children()
        if conversation_id is None:
            await self.mount(
                Static(
                    "Start typing below: your new conversation begins with your first message.",
                    classes="hint",
                )
            )
            return
        messages = self.store.messages(conversation_id, limit=PAGE + 1)
        self.has_older = len(messages) > PAGE
        messages = messages[-PAGE:]
        await self.mount_all([message_widget(m) for m in messages])
        if not messages:
            await self.mount(Static("This conversation is empty.", classes="hint"))
        self.anchor()
        self.scroll_end(animate=False, immediate=True)

    @property
    def message_widgets(self) -> list[Widget]:
        return [w for w in self.children if hasattr(w, "message")]

    # -- growing -----------------------------------------------------------------------
    async def add_message(self, message: Message, streaming: bool = False) -> Widget:
        for hint in self.query(".hint"):
            await hint.remove()
        widget = AssistantMessage(message, streaming=True) if streaming else message_widget(message)
        await self.mount(widget)
        await self._prune()
        if not self._anchor_released:
            self.scroll_end(animate=False)
        return widget

    async def remove_from(self, message_id: int) -> None:
        """Unmount a message and everything after it (regenerate, edit and resend)."""
        for widget in self.message_widgets:
            if widget.message.id >= message_id:
                await widget.remove()

    async def _prune(self) -> None:
        widgets = self.message_widgets
        extra = len(widgets) - MAX_MOUNTED
        if extra > 0 and not self._anchor_released:
            await self.remove_children(widgets[:extra])
            self.has_older = True

    # -- scrolling back ------------------------------------------------------------------
    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 1 and self.has_older and not self._loading_older:
            self._loading_older = True
            self.call_after_refresh(self._load_older)

    async def _load_older(self) -> None:
        try:
            widgets = self.message_widgets
            if not widgets or self.conversation_id is None:
                return
            first = widgets[0]
            older = self.store.messages(
                self.conversation_id, before_id=first.message.id, limit=PAGE + 1
            )
            self.has_older = len(older) > PAGE
            older = older[-PAGE:]
            if not older:
                return
            height_before = self.virtual_size.height
            await self.mount_all([message_widget(m) for m in older], before=first)
            self.release_anchor()

            def keep_position() -> None:
                grown = self.virtual_size.height - height_before
                self.scroll_to(y=self.scroll_y + grown, animate=False, immediate=True)

            self.call_after_refresh(keep_position)
        finally:
            self._loading_older = False
