"""The multi-line prompt: enter sends, shift+enter / ctrl+j add a line."""

from __future__ import annotations

from textual import events
from textual.message import Message as TextualMessage
from textual.widgets import TextArea

from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import pasted
from gguf_tui.tui.widgets.keys import run_own_binding


class PromptArea(TextArea):
    # Not priority bindings, and run in key order by `_on_key` (see widgets/keys.py).
    BINDINGS = to_bindings(keymap.PROMPT_ACTIONS)

    class Submitted(TextualMessage):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class EditLast(TextualMessage):
        """Up was pressed in an empty prompt: the user wants to edit their last message."""

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)

    async def _on_paste(self, event: events.Paste) -> None:
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
        """Enter sends exactly the text typed before it, even when both arrived in one
        read: the prompt's own bindings run here, in its key order. (A priority binding
        would run when the app receives the key, before this widget has inserted the
        characters ahead of it, and the message would be sent cut or not at all.)"""
        if event.key == "up" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditLast())
            return
        if not await run_own_binding(self, event):  # enter, backspace, arrows …
            await super()._on_key(event)
