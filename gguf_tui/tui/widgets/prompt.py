"""The multi-line prompt: enter sends, shift+enter / ctrl+j add a line."""

from __future__ import annotations

import re

from textual import events
from textual.message import Message as TextualMessage
from textual.widgets import TextArea

from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import pasted
from gguf_tui.tui.widgets.keys import run_own_binding

# A line longer than this is held out of the editor (see PromptArea.hold). TextArea renders
# each visible row of a wrapped line by dividing the whole line: a key with a 1 MB line on
# screen took 1-6 s (100 KB: +0.1 s; many short lines cost nothing, so only length counts).
LONG_LINE = 20_000


def held_token(number: int, line: str) -> str:
    """What the prompt shows in place of a held line: which one, and how long."""
    return f"[long line #{number}: {len(line):,} characters]"


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
        self._held: dict[str, str] = {}  # token shown -> the text it stands for

    # -- held text: a paste with a very long line ------------------------------------------
    def hold(self, text: str) -> str:
        """`text` with each line too long to edit (minified JSON, base64, a log without
        breaks) replaced by a short token that stands for it until it is sent. A token is
        deleted whole by backspace/delete; what is sent is the line in full."""
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if len(line) > LONG_LINE:
                lines[i] = held_token(len(self._held) + 1, line)
                self._held[lines[i]] = line
        return "\n".join(lines)

    @property
    def value(self) -> str:
        """What sending would send: the prompt's text with each intact token expanded."""
        text = self.text
        if not self._held:
            return text
        tokens = re.compile("|".join(map(re.escape, self._held)))
        return tokens.sub(lambda m: self._held[m.group()], text)  # one pass: no re-expansion

    @value.setter
    def value(self, text: str) -> None:
        """Replace the whole text (and the undo history, so no old token can come back:
        only then are the held lines let go. `clear()` after sending can be undone)."""
        self._held.clear()
        self.text = self.hold(text)

    def _held_span(self, forward: bool) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The token the cursor is right behind (or, `forward`, right before), if any."""
        if not self._held or self.selection.start != self.selection.end:
            return None
        row, col = self.cursor_location
        line = self.document.get_line(row)
        for token in self._held:
            if not forward and line.endswith(token, 0, col):
                return (row, col - len(token)), (row, col)
            if forward and line.startswith(token, col):
                return (row, col), (row, col + len(token))
        return None

    def action_delete_left(self) -> None:
        if span := self._held_span(forward=False):
            self.delete(*span)
        else:
            super().action_delete_left()

    def action_delete_right(self) -> None:
        if span := self._held_span(forward=True):
            self.delete(*span)
        else:
            super().action_delete_right()

    async def _on_paste(self, event: events.Paste) -> None:
        """Pasted text keeps its words and line breaks but not its control characters:
        raw, an escape sequence (colours copied from a terminal, an OSC title) would
        reach the terminal through this widget. They become visible symbols (␛[31m).
        (TextArea's own handler runs next, as Textual calls each class's, and inserts it.)"""
        event.text = self.hold(pasted(event.text))

    def action_submit(self) -> None:
        text = self.value
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
