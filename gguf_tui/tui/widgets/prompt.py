"""The multi-line prompt: enter sends, shift+enter / ctrl+j add a line."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.widgets import TextArea

from gguf_tui.tui.text import pasted

# Keys the prompt handles itself, in the order they arrive (see `_on_key`).
SEND_KEYS = frozenset({"enter"})
NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j"})


class PromptArea(TextArea):
    # Shown in the footer and the help; the keys themselves are handled in `_on_key`.
    BINDINGS = [
        Binding("enter", "submit", "Send", id="send"),
        Binding("shift+enter,ctrl+j", "newline", "New line", show=False, id="newline"),
    ]

    class Submitted(TextualMessage):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class EditLast(TextualMessage):
        """Up was pressed in an empty prompt: the user wants to edit their last message."""

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)

    def _on_paste(self, event: events.Paste) -> None:
        """Pasted text keeps its words and line breaks but not its control characters:
        raw, an escape sequence (colours copied from a terminal, an OSC title) would
        reach the terminal through this widget. They become visible symbols (␛[31m).
        (TextArea's own handler runs next, as Textual calls each class's, and inserts it.)"""
        event.text = pasted(event.text)

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self.insert("\n")

    async def _on_key(self, event: events.Key) -> None:
        """Enter is handled here, in the widget's own key order, not by a priority
        binding: a priority binding runs when the app receives the key, before this
        widget has inserted the characters that arrived ahead of it in the same read
        (fast typing, ssh, a script), and the message would be sent cut or not at all."""
        if event.key in SEND_KEYS or event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_submit() if event.key in SEND_KEYS else self.action_newline()
            return
        if event.key == "up" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditLast())
            return
        await super()._on_key(event)
