"""Small modal screens: confirm, ask for a line of text, export, help."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, RadioButton, RadioSet, Static

from gguf_tui.tui.keymap import APP_ACTIONS, CHAT_ACTIONS, PROMPT_KEYS


class ConfirmScreen(ModalScreen[bool]):
    """Yes / no; `y` and `n` work too."""

    BINDINGS = [
        Binding("escape,n", "dismiss(False)", "No"),
        Binding("y", "dismiss(True)", "Yes"),
    ]

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

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

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

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

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
    """Every key binding, generated from the keymap table."""

    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.keymap = keymap or {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("Keys (remap them under [keymap] in config.toml)")
            yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)
            yield Static("escape to close", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "what it does", "id")
        for action in (*CHAT_ACTIONS, *APP_ACTIONS):
            table.add_row(self.keymap.get(action.id, action.keys), action.help, action.id)
        for keys, text in PROMPT_KEYS:
            table.add_row(keys, text, "")
        table.focus()
