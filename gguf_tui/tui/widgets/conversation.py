"""The scrolling conversation, with a bounded number of mounted message widgets.

Every mounted widget costs layout time on every streamed update, so only the
newest messages are mounted; older ones are read from the store when the user
scrolls to the top, and the oldest are unmounted again as the chat grows.

With the focus here (tab / shift+tab), up and down move a highlight over the
messages; the copy actions take the highlighted message (or the last answer)
and put it on the clipboard through the terminal (OSC 52). A search hit opens
scrolled to the matching message, highlighted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import events
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import Static

from gguf_tui.store.database import Store
from gguf_tui.store.errors import StoreError
from gguf_tui.store.records import Message
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import literal
from gguf_tui.tui.widgets.messages import (
    AssistantMessage,
    MessageWidget,
    Versions,
    chat_markdown,
    message_widget,
)

PAGE = 30  # messages mounted when a conversation opens, and per scroll-up
MAX_MOUNTED = 80
REVEAL_MAX = 200  # a search hit this many messages from the end still opens scrolled to it
REVEAL_CONTEXT = 2  # messages mounted above a search hit
REVEAL_ROWS_ABOVE = 3  # rows of the message above a search hit shown when it opens
REVEAL_PASSES = 4  # refreshes over which a search hit is scrolled to again while the view grows
HIGHLIGHTED = "-highlighted"


@dataclass(frozen=True, slots=True)
class CodeBlock:
    code: str
    language: str


def code_blocks(markdown: str) -> list[CodeBlock]:
    """The code blocks of a message, fenced or indented, as the chat's Markdown parses them."""
    blocks = []
    for token in chat_markdown().parse(markdown):
        if token.type in ("fence", "code_block"):
            language = token.info.split()[0] if token.info.strip() else ""
            blocks.append(CodeBlock(token.content.removesuffix("\n"), language))
    return blocks


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def message_text(widget: MessageWidget) -> str:
    """What a message widget shows, as text to copy: the answer written so far while it
    streams, control characters as the visible symbols the screen shows (never a raw
    escape sequence onto the clipboard)."""
    text = widget.text if isinstance(widget, AssistantMessage) else widget.message.content
    return literal(text)


def message_kind(widget: MessageWidget) -> str:
    role = widget.message.role
    if role == "assistant":
        return "the answer so far" if getattr(widget, "streaming", False) else "the answer"
    return "your message" if role == "user" else "the system message"


class ConversationView(VerticalScroll, can_focus=True):
    """The messages of one conversation, newest at the bottom."""

    DEFAULT_CSS = """
    ConversationView .message.-highlighted,
    ConversationView .message.-highlighted * {
        tint: $accent 12%;
    }
    ConversationView:focus .message.-highlighted,
    ConversationView:focus .message.-highlighted * {
        tint: $accent 22%;
    }
    """

    BINDINGS = to_bindings(keymap.CONVERSATION_ACTIONS)

    class EditRequested(TextualMessage):
        """Enter on one of the user's messages: edit it into a new version."""

        def __init__(self, message: Message) -> None:
            super().__init__()
            self.message = message

    def __init__(self, store: Store, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.conversation_id: int | None = None
        self.has_older = False
        self._loading_older = False
        self.highlighted: MessageWidget | None = None
        self._code_next: tuple[int, int] | None = None  # (message id, block) of the next copy
        # (conversation, message) to open at, and whether a last message is shown whole
        self._reveal: tuple[int, int, bool] | None = None
        self.versions: dict[int, tuple[int, int]] = {}  # messages with other versions

    def _widget(self, message: Message) -> MessageWidget:
        return message_widget(message, self.versions.get(message.id))

    # -- opening ---------------------------------------------------------------------
    async def show(self, conversation_id: int | None) -> None:
        """Replace the view with the newest messages of a conversation (or, for a search
        hit, the messages from the matching one on, scrolled to it and highlighted)."""
        reveal, self._reveal = self._reveal, None
        self.conversation_id = conversation_id
        self.highlighted = None
        self._code_next = None
        await self.remove_children()
        self.versions = self.store.versions(conversation_id) if conversation_id else {}
        if conversation_id is None:
            await self.mount(
                Static(
                    "Start typing below: your new conversation begins with your first message.",
                    classes="hint",
                )
            )
            return
        if (
            reveal is not None
            and reveal[0] == conversation_id
            and await self._show_at(conversation_id, reveal[1], reveal[2])
        ):
            return
        messages = self.store.messages(conversation_id, limit=PAGE + 1)
        self.has_older = len(messages) > PAGE
        messages = messages[-PAGE:]
        await self.mount_all([self._widget(m) for m in messages])
        if not messages:
            await self.mount(Static("This conversation is empty.", classes="hint"))
        self.anchor()
        self.scroll_end(animate=False, immediate=True)

    def reveal_on_show(
        self, conversation_id: int, message_id: int | None, follow_last: bool = False
    ) -> None:
        """Open `conversation_id`, when it is next shown, at `message_id` (a search hit;
        another version of a message). With `follow_last`, a message that is the last
        one is shown to its end (its version marker) and the view follows it."""
        self._reveal = None if message_id is None else (conversation_id, message_id, follow_last)

    async def _show_at(
        self, conversation_id: int, message_id: int, follow_last: bool = False
    ) -> bool:
        """Mount from a little above `message_id` to the newest message, highlight it and
        scroll to it. False when it is too far back (the caller shows the newest)."""
        newest = self.store.messages(conversation_id, limit=REVEAL_MAX + 1)
        if message_id not in {m.id for m in newest} and self._on_another_branch(message_id):
            newest = self.store.messages(conversation_id, limit=REVEAL_MAX + 1)
        more = len(newest) > REVEAL_MAX
        newest = newest[-REVEAL_MAX:]
        ids = [m.id for m in newest]
        if message_id not in ids:
            self.notify(
                f"The match is more than {REVEAL_MAX} messages back: scroll up to find it.",
                timeout=6,
            )
            return False
        start = max(0, min(ids.index(message_id) - REVEAL_CONTEXT, len(ids) - PAGE))
        self.has_older = more or start > 0
        await self.mount_all([self._widget(m) for m in newest[start:]])
        target = next(w for w in self.message_widgets if w.message.id == message_id)
        if follow_last and target is self.message_widgets[-1]:
            self.set_highlight(target, scroll=False)
            self.anchor()
            self.scroll_end(animate=False, immediate=True)
            return True
        # Not anchored at all, not merely released: while the Markdown below the match is
        # still being laid out, the view passes through "scrolled to the end" and a
        # released anchor would catch again and pull it there. The next message sent
        # anchors it again (add_message).
        self.anchor(False)
        self.release_anchor()
        self.set_highlight(target, scroll=False)
        self.call_after_refresh(self._scroll_to_top_of, target, REVEAL_PASSES)
        return True

    def _on_another_branch(self, message_id: int) -> bool:
        """Show the branch a message is on when it is not the one shown (a search hit
        in another version); False when it is on this branch after all, or is gone."""
        cid = self.conversation_id or 0
        if any(m.id == message_id for m in self.store.messages(cid)):
            return False  # on the branch shown, only far back
        try:
            if self.store.show_branch(message_id) is None:
                return False
        except StoreError:
            return False
        self.versions = self.store.versions(cid)
        return True

    def _scroll_to_top_of(self, widget: Widget, passes: int = 1) -> None:
        """Scroll `widget` near the top, the end of the message above it still in view;
        again after the next few refreshes, since the messages above it grow as their
        Markdown is laid out.

        A conversation that fits the view is anchored instead, as it opens normally (at
        the bottom, by the prompt). Textual draws an anchored view shorter than itself
        with a negative scroll offset, and a view that does not scroll ignores
        `scroll_to`: unanchored, the offset stayed and the messages after the first few
        were drawn below the view's edge (measured: an edited first message of a
        three-turn chat showed only its first answer)."""
        if not widget.is_attached:
            return
        if self.virtual_size.height <= self.scrollable_content_region.height:
            self.anchor()
        else:
            self.anchor(False)
            self.release_anchor()
            top = widget.virtual_region_with_margin.y - REVEAL_ROWS_ABOVE
            self.scroll_to(y=max(0, top), animate=False, immediate=True, force=True)
        if passes > 1:
            self.call_after_refresh(self._scroll_to_top_of, widget, passes - 1)

    @property
    def message_widgets(self) -> list[MessageWidget]:
        return [w for w in self.children if isinstance(w, MessageWidget)]

    # -- growing -----------------------------------------------------------------------
    async def add_message(
        self, message: Message, streaming: bool = False, versions: Versions = None
    ) -> MessageWidget:
        for hint in self.query(".hint"):
            await hint.remove()
        self.set_highlight(None)  # the conversation moves on: copying means the new answer
        if versions:
            self.versions[message.id] = versions
        widget = (
            AssistantMessage(message, streaming=True, versions=versions)
            if streaming
            else self._widget(message)
        )
        await self.mount(widget)
        await self._prune()
        if not self.is_anchored:
            self.anchor()  # after a search hit was opened: follow the conversation again
        elif not self._anchor_released:
            self.scroll_end(animate=False)
        return widget

    async def remove_from(self, message_id: int) -> None:
        """Unmount a message and everything after it (regenerate, edit and resend: ids
        grow down a branch, so what follows a message on screen has higher ids)."""
        for widget in self.message_widgets:
            if widget.message.id >= message_id:
                if widget is self.highlighted:
                    self.set_highlight(None)
                await widget.remove()

    async def _prune(self) -> None:
        widgets = self.message_widgets
        extra = len(widgets) - MAX_MOUNTED
        if extra > 0 and not self._anchor_released:
            if self.highlighted in widgets[:extra]:
                self.set_highlight(None)
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
            await self.mount_all([self._widget(m) for m in older], before=first)
            self.release_anchor()

            def keep_position() -> None:
                grown = self.virtual_size.height - height_before
                self.scroll_to(y=self.scroll_y + grown, animate=False, immediate=True)

            self.call_after_refresh(keep_position)
        finally:
            self._loading_older = False

    # -- the highlight ---------------------------------------------------------------------
    def set_highlight(self, widget: MessageWidget | None, scroll: bool = True) -> None:
        if self.highlighted is not None:
            self.highlighted.remove_class(HIGHLIGHTED)
        self.highlighted = widget
        if widget is None:
            return
        widget.add_class(HIGHLIGHTED)
        if scroll:
            if widget is not self.message_widgets[-1]:
                self.release_anchor()  # a streaming answer must not pull the view away
            self.scroll_to_widget(widget, animate=False, immediate=True)

    def on_focus(self, event: events.Focus) -> None:
        if self.highlighted is None and self.message_widgets:
            self.set_highlight(self.message_widgets[-1], scroll=False)

    async def action_move_highlight(self, step: int) -> None:
        widgets = self.message_widgets
        if not widgets:
            return
        if self.highlighted not in widgets:
            self.set_highlight(widgets[-1])
            return
        index = widgets.index(self.highlighted) + step
        if index < 0 and self.has_older:
            await self._load_older()
            widgets = self.message_widgets
            index = widgets.index(self.highlighted) + step
        if 0 <= index < len(widgets):
            self.set_highlight(widgets[index])

    def action_edit_highlighted(self) -> None:
        widget = self.highlighted if self.highlighted in self.message_widgets else None
        if widget is None:
            return
        if widget.message.role != "user":
            self.notify("Only your own messages can be edited (ctrl+r answers again).", timeout=4)
            return
        self.post_message(self.EditRequested(widget.message))

    def action_highlight_end(self, index: int) -> None:
        widgets = self.message_widgets
        if widgets:
            self.set_highlight(widgets[index])
            if index == -1:
                self.scroll_end(animate=False)

    # -- copying ---------------------------------------------------------------------------
    def _last_answer(self) -> MessageWidget | None:
        answers = (w for w in reversed(self.message_widgets) if w.message.role == "assistant")
        return next(answers, None)

    def _copy(self, text: str, what: str) -> None:
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {what} ({_count(len(text), 'character')}).", timeout=3)

    def copy_message(self) -> None:
        """The highlighted message, or the last answer when none is highlighted."""
        widget = self.highlighted if self.highlighted in self.message_widgets else None
        if widget is None:
            widget = self._last_answer()
            if widget is None:
                self.notify("Nothing to copy yet.", timeout=3)
                return
        self._copy_widget(widget)

    def copy_answer(self) -> None:
        """The newest answer, whatever is highlighted."""
        widget = self._last_answer()
        if widget is None:
            self.notify("There is no answer to copy yet.", timeout=3)
            return
        self._copy_widget(widget)

    def _copy_widget(self, widget: MessageWidget) -> None:
        text, kind = message_text(widget), message_kind(widget)
        if not text:
            self.notify(f"{kind.capitalize()} is empty: nothing to copy.", timeout=3)
            return
        self._copy(text, kind)

    def copy_code(self) -> None:
        """The next code block of the highlighted message (or of the last answer with code):
        each press copies the next one, back to the first after the last."""
        widget = self.highlighted if self.highlighted in self.message_widgets else None
        if widget is None:
            widget = next(
                (w for w in reversed(self.message_widgets) if code_blocks(message_text(w))),
                None,
            )
        blocks = code_blocks(message_text(widget)) if widget is not None else []
        if widget is None or not blocks:
            where = "this message" if widget is not None else "this conversation"
            self.notify(f"There is no code block in {where}.", timeout=3)
            return
        mid = widget.message.id
        index = self._code_next[1] if self._code_next and self._code_next[0] == mid else 0
        index %= len(blocks)
        self._code_next = (mid, index + 1)
        block = blocks[index]
        about = ", ".join(
            p for p in (block.language, _count(block.code.count("\n") + 1, "line")) if p
        )
        self.app.copy_to_clipboard(block.code)
        self.notify(f"Copied code block {index + 1} of {len(blocks)} ({about}).", timeout=3)


if TYPE_CHECKING:  # checked as the Screen it is mixed into; at run time a plain mixin
    from textual.screen import Screen

    _ScreenBase = Screen
else:
    _ScreenBase = object


class CopyActions(_ScreenBase):
    """The copy actions of the chat screen (mixed into ChatScreen, so they have keys from
    the keymap and a place in the command palette); the view does the work."""

    def action_copy_message(self) -> None:
        self.query_one(ConversationView).copy_message()

    def action_copy_code(self) -> None:
        self.query_one(ConversationView).copy_code()

    def action_copy_answer(self) -> None:
        self.query_one(ConversationView).copy_answer()
