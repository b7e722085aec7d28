"""The multi-line prompt: enter sends, shift+enter / ctrl+j add a line."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.widgets import TextArea

from gguf_tui.tui.text import literal


class PromptArea(TextArea):
    BINDINGS = [
        Binding("enter", "submit", "Send", priority=True, id="send"),
        Binding(
            "shift+enter,ctrl+j", "newline", "New line", show=False, priority=True, id="newline"
        ),
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
        """Pasted text keeps its words but not its control characters: raw, an escape
        sequence (colours copied from a terminal, an OSC title) would reach the terminal
        through this widget. They become visible symbols (␛[31m) and are sent that way.
        (TextArea's own handler runs next, as Textual calls each class's, and inserts it.)"""
        event.text = literal(event.text)

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self.insert("\n")

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "up" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditLast())
            return
        await super()._on_key(event)
