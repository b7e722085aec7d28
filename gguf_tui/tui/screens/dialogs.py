"""Small modal screens: confirm, ask for a line of text, export, help."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

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
    """Every screen's keys, generated from the bindings themselves so it cannot drift.

    Each remappable binding shows its id (what `[keymap]` in config.toml takes); the
    descriptions wrap instead of being cut, and the list scrolls at any size."""

    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.keymap = keymap or {}

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

# Longer words for bindings whose own description is a footer label.
_BINDING_HELP = {
    "close": "Close",
    "tab('local')": "Show the models on this computer",
    "tab('hub')": "Search Hugging Face for GGUF models",
    "tab('servers')": "Show the models of the servers in config.toml",
    "cancel_download": "Cancel the download in progress",
    "cycle_sort": "Sort the local models by name, size or date",
    "back": "Back from a repository's files to the search results",
    "keep('original')": "Keep the left answer (the quantization loaded before)",
    "keep('new')": "Keep the right answer and the quantization that wrote it",
    "rerun": "Run the benchmark again",
    "save": "Save",
    "dismiss(None)": "Cancel",
}
_ESCAPE_HELP = {"compare.cancel": "Stop the new answer; keep the left one"}


def _keys(text: str) -> str:
    return ", ".join(k.strip() for k in text.split(","))


def _binding_rows(keymap: dict[str, str], *classes: type) -> list[HelpRow]:
    rows: list[HelpRow] = []
    for cls in classes:
        for binding in getattr(cls, "BINDINGS", ()):
            if not isinstance(binding, Binding):
                continue
            binding_id = binding.id or ""
            text = (
                _ESCAPE_HELP.get(binding_id)
                or binding.tooltip
                or _BINDING_HELP.get(binding.action)
                or binding.description
                or binding.action
            )
            rows.append((_keys(keymap.get(binding_id, binding.key)), text, binding_id))
    return rows


def _action_rows(keymap: dict[str, str], actions) -> list[HelpRow]:
    return [(_keys(keymap.get(a.id, a.keys)), a.help, a.id) for a in actions]


def help_sections(keymap: dict[str, str]) -> list[tuple[str, list[HelpRow]]]:
    """The help's sections: each screen's bindings, read from the screens themselves."""
    from gguf_tui.tui.screens.bench import BenchScreen
    from gguf_tui.tui.screens.compare import CompareScreen
    from gguf_tui.tui.screens.picker import ModelPicker
    from gguf_tui.tui.screens.quant_switcher import QuantSwitcher
    from gguf_tui.tui.screens.settings import FormScreen
    from gguf_tui.tui.widgets.hub_browser import HubBrowser
    from gguf_tui.tui.widgets.local_models import LocalModels

    def key(action_id: str) -> str:
        for action in (*CHAT_ACTIONS, *APP_ACTIONS):
            if action.id == action_id:
                return _keys(keymap.get(action.id, action.keys))
        return ""

    moves: list[HelpRow] = [
        ("type", "Filter the list", ""),
        ("up, down", "Move the highlight", ""),
    ]
    return [
        ("Chat", _action_rows(keymap, CHAT_ACTIONS)),
        ("Prompt (while typing a message)", [(k, text, "") for k, text in PROMPT_KEYS]),
        ("Everywhere", _action_rows(keymap, APP_ACTIONS)),
        (
            f"Model picker ({key('pick_model')})",
            [
                *_binding_rows(keymap, ModelPicker, LocalModels, HubBrowser),
                *moves,
                (
                    "enter",
                    "Load the highlighted model; on Hugging Face open the repository, "
                    "then download and load the highlighted file",
                    "",
                ),
            ],
        ),
        (
            f"Quantization switcher ({key('switch_quant')}; {key('compare')} picks the other "
            "side of a comparison)",
            [
                *_binding_rows(keymap, QuantSwitcher),
                *moves,
                ("enter", "Switch to the highlighted quantization", ""),
            ],
        ),
        (f"Compare ({key('compare')})", _binding_rows(keymap, CompareScreen)),
        ("Benchmark (ctrl+p: Benchmark quantizations)", _binding_rows(keymap, BenchScreen)),
        (
            f"Settings forms ({key('settings')}; {key('conversation_settings')} for this "
            "conversation)",
            [
                *_binding_rows(keymap, FormScreen),
                ("tab, shift+tab", "Next / previous field", ""),
                ("enter", "Save", ""),
            ],
        ),
    ]
