"""Small modal screens: confirm, ask for a line of text, export, help."""

from __future__ import annotations

import re
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from gguf_tui.tui.keymap import (
    CONFIRM_ACTIONS,
    DIALOG_ACTIONS,
    HELP_ACTIONS,
    HELP_SECTIONS,
    SCOPES,
    check_keymap,
    to_bindings,
)


class ConfirmScreen(ModalScreen[bool]):
    """Yes / no; `y` and `n` work too."""

    BINDINGS = to_bindings(CONFIRM_ACTIONS)

    def __init__(self, question: str, yes: str = "Delete") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class TextPromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a title, a path)."""

    BINDINGS = to_bindings(DIALOG_ACTIONS)

    def __init__(self, question: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, markup=False)
            yield Input(self.value, placeholder=self.placeholder, id="answer")
            yield Static("enter to confirm · escape to cancel", classes="hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


EXPORT_FORMATS = {"md": "Markdown", "json": "JSON (everything)", "history": "chat.py history"}


class ExportScreen(ModalScreen[tuple[str, Path] | None]):
    """Choose a format and a file; returns (format, path)."""

    BINDINGS = to_bindings(DIALOG_ACTIONS)

    def __init__(self, default_stem: str) -> None:
        super().__init__(classes="dialog-screen")
        self.default_stem = default_stem

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export this conversation")
            with RadioSet(id="format"):
                for i, label in enumerate(EXPORT_FORMATS.values()):
                    yield RadioButton(label, value=i == 0)
            yield Input(str(Path.cwd() / f"{self.default_stem}.md"), id="path")
            yield Static("enter to export · escape to cancel", classes="hint")

    @property
    def chosen_format(self) -> str:
        index = self.query_one(RadioSet).pressed_index
        return list(EXPORT_FORMATS)[max(index, 0)]

    @on(RadioSet.Changed)
    def _format_changed(self) -> None:
        path_input = self.query_one("#path", Input)
        path = Path(path_input.value)
        suffix = ".md" if self.chosen_format == "md" else ".json"
        path_input.value = str(path.with_suffix(suffix))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss((self.chosen_format, Path(event.value.strip()).expanduser()))


class HelpScreen(ModalScreen[None]):
    """Every screen's keys, generated from keymap.py's tables (the bindings' one source).

    Each remappable binding shows its id (what `[keymap]` in config.toml takes); the
    descriptions wrap instead of being cut, and the list scrolls at any size."""

    BINDINGS = to_bindings(HELP_ACTIONS)

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.keymap = check_keymap(keymap or {})[0]  # a refused entry keeps its default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static(
                "Every key, screen by screen. To remap one, put its id (after the "
                'description) under [keymap] in config.toml, e.g. new_chat = "ctrl+t".',
                markup=False,
                id="help-title",
            )
            with VerticalScroll(id="help-keys"):
                for title, rows in help_sections(self.keymap):
                    yield Static(self._table(title, rows), classes="help-section", markup=False)
            yield Static("↑↓ pgup pgdn scroll · escape closes", classes="hint", markup=False)

    def _table(self, title: str, rows: list[HelpRow]) -> Table:
        accent = self.app.current_theme.accent or "cyan"
        table = Table(
            box=None,
            show_header=False,
            expand=True,
            padding=(0, 1),
            title=Text(title, style="bold"),
            title_justify="left",
        )
        table.add_column("key", style="bold", width=KEY_WIDTH, overflow="fold")
        table.add_column("what it does", ratio=1, overflow="fold")
        for keys, text, binding_id in rows:
            what = Text(text)
            if binding_id:
                what.append("  ")
                what.append(binding_id, style=f"italic {accent}")
            table.add_row(Text(keys), what)
        return table

    def on_mount(self) -> None:
        self.query_one("#help-keys", VerticalScroll).focus()


# (keys, what they do, the binding's id for [keymap] or "" when it cannot be remapped)
HelpRow = tuple[str, str, str]
KEY_WIDTH = 20
_PLACEHOLDER = re.compile(r"\{([\w.]+)\}")


def _keys(text: str) -> str:
    return ", ".join(k.strip() for k in text.split(","))


def help_sections(keymap: dict[str, str]) -> list[tuple[str, list[HelpRow]]]:
    """The help's sections, read from keymap.py's tables with the keys as remapped."""
    keys = {a.id: _keys(keymap.get(a.id, a.keys)) for _, actions in SCOPES for a in actions}

    def title(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: keys.get(m.group(1), m.group(0)), text)

    return [
        (
            title(section.title),
            [(keys[a.id], a.help, a.id) for a in section.actions]
            + [(k, text, "") for k, text in section.notes],
        )
        for section in HELP_SECTIONS
    ]
