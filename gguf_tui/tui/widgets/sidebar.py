"""The list of saved conversations: newest first, loaded a page at a time.

A line-based `OptionList` stays fast with thousands of entries where a
`ListView` of widgets does not; pages of 200 are read from the store as the
highlight nears the end of what is loaded.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from gguf_tui.store.database import Store
from gguf_tui.store.records import Conversation
from gguf_tui.store.search import first_match
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import literal, relative_time
from gguf_tui.tui.widgets.conversation import ConversationView

PAGE = 200


def conversation_prompt(conv: Conversation, width: int = 28) -> Content:
    title = literal(conv.title or "New conversation").replace("\n", " ")
    if len(title) > width:
        title = title[: width - 1] + "…"
    detail = " · ".join(
        p for p in (conv.quant or conv.model_file, relative_time(conv.updated_at)) if p
    )
    return Content.assemble(title, "\n", (detail, "$text-muted"))


class ConversationList(OptionList):
    BINDINGS = to_bindings(keymap.SIDEBAR_ACTIONS)

    class DeleteRequested(TextualMessage):
        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def action_delete(self) -> None:
        option = self.highlighted_option
        if option is not None and option.id:
            self.post_message(self.DeleteRequested(int(option.id)))


class Sidebar(Vertical):
    """Search box, conversation list, and a count line."""

    class Opened(TextualMessage):
        """The user picked a conversation in the list."""

        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def __init__(self, store: Store, **kwargs) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.query_text: str = ""
        self._loaded = 0
        self._total = 0
        self.ids: list[int] = []
        self._opened_here: int | None = None  # picked in this list, the screen still opening it

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search conversations", id="search", classes="hidden")
        yield ConversationList(id="conversations")
        yield Static("", id="sidebar-count", markup=False)

    @property
    def option_list(self) -> ConversationList:
        return self.query_one(ConversationList)

    def reload(self, select: int | None = None) -> None:
        """Read the first page again (after a change), keeping `select` highlighted."""
        option_list = self.option_list
        option_list.clear_options()
        self.ids = []
        self._loaded = 0
        query = self.query_text or None
        self._total = self.store.count_conversations(query)
        self._load_page()
        self._opened_here = None  # a new list: nothing is highlighted in it yet
        if select is not None:
            self.highlight(select)
        self._update_count()

    def _load_page(self) -> None:
        query = self.query_text or None
        page = self.store.list_conversations(offset=self._loaded, limit=PAGE, query=query)
        self._loaded += len(page)
        self.ids += [c.id for c in page]
        self.option_list.add_options(Option(conversation_prompt(c), id=str(c.id)) for c in page)

    def _update_count(self) -> None:
        what = "match" if self.query_text else "conversation"
        plural = "es" if what == "match" else "s"
        text = f"{self._total} {what}{'' if self._total == 1 else plural}"
        self.query_one("#sidebar-count", Static).update(text)

    def highlight(self, conversation_id: int) -> None:
        if conversation_id == self._opened_here:
            # The screen echoing a conversation picked in this list: it is highlighted
            # already, and the user may have moved on in the list while it opened.
            self._opened_here = None
            return
        while conversation_id not in self.ids and self._loaded < self._total:
            self._load_page()
        if conversation_id in self.ids:
            self.option_list.highlighted = self.ids.index(conversation_id)

    def neighbour(self, conversation_id: int | None, step: int) -> int | None:
        """The conversation `step` places away in the list (for ctrl+up / ctrl+down)."""
        if not self.ids:
            return None
        if conversation_id not in self.ids:
            return self.ids[0]
        index = self.ids.index(conversation_id) + step
        if index >= len(self.ids) and self._loaded < self._total:
            self._load_page()
        if 0 <= index < len(self.ids):
            return self.ids[index]
        return None

    def refresh_entry(self, conversation_id: int) -> None:
        conv = self.store.get_conversation(conversation_id)
        if conv is not None and conversation_id in self.ids:
            self.option_list.replace_option_prompt(str(conversation_id), conversation_prompt(conv))

    # -- search ------------------------------------------------------------------------
    def open_search(self) -> None:
        search = self.query_one("#search", Input)
        search.remove_class("hidden")
        search.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value.strip()
        self.reload()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        """Enter in the search box opens the first hit, at its matching message."""
        if not self.ids:
            self.notify("No conversation matches.", timeout=3)
            return
        self.option_list.highlighted = 0
        self.open(self.ids[0])

    def open(self, conversation_id: int) -> None:
        """Ask the screen to open a conversation; while searching, at the first match."""
        if self.query_text:
            message_id = first_match(self.store, conversation_id, self.query_text)
            for view in self.screen.query(ConversationView):
                view.reveal_on_show(conversation_id, message_id)
        self._opened_here = conversation_id
        self.post_message(self.Opened(conversation_id))

    def close_search(self) -> None:
        search = self.query_one("#search", Input)
        if self.query_text:
            search.value = ""
        search.add_class("hidden")
        self.query_text = ""
        self.reload()

    # -- list events -----------------------------------------------------------------------
    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index >= len(self.ids) - 20 and self._loaded < self._total:
            self._load_page()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.open(int(event.option.id))
