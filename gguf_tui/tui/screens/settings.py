"""Settings screens: the app's config.toml, and one conversation's own overrides.

Both are the same small form: one input per key, validated with the same rules
that read config.toml, so the screen can never write a file the app would then
refuse. A config file that did not parse is never written over.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from gguf_tui.config import SETTING_HELP, Settings, settings_from_dict

if TYPE_CHECKING:
    from gguf_tui.tui.app import GgufTuiApp

# Keys a conversation may override (sampling, system prompt, context size).
CONVERSATION_KEYS = (
    "system_prompt",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "max_tokens",
    "seed",
    "n_ctx",
)
_CONVERSATION_HELP = {"seed": "fixed seed for every answer here (empty = a new one each time)"}


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    return "" if value is None else str(value)


def _parse(text: str, default: Any) -> Any:
    """Text from an input -> the type of the default (ValueError if it does not fit)."""
    text = text.strip()
    if isinstance(default, list):
        return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(text or 0)
    if isinstance(default, float):
        return float(text or 0)
    return text


class FormScreen(ModalScreen[dict | None]):
    """A titled list of labelled inputs with Save (ctrl+s) and Cancel (escape)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(
        self,
        title: str,
        values: dict[str, str],
        help_text: dict[str, str],
        note: str = "",
        can_save: bool = True,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.values = values
        self.help_text = help_text
        self.note = note
        self.can_save = can_save

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog settings"):
            yield Label(self.title_text, markup=False)
            if self.note:
                yield Static(self.note, classes="hint", markup=False)
            with VerticalScroll():
                for key, value in self.values.items():
                    yield Label(
                        f"{key}: {self.help_text.get(key, '')}", classes="field-help", markup=False
                    )
                    yield Input(value, id=f"field-{key}", classes="field")
            yield Static("", id="form-problems", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(
                    "Save (ctrl+s)", variant="primary", id="save", disabled=not self.can_save
                )
                yield Button("Cancel", id="cancel")

    def entered(self) -> dict[str, str]:
        return {k: self.query_one(f"#field-{k}", Input).value for k in self.values}

    def show_problems(self, problems: list[str]) -> None:
        self.query_one("#form-problems", Static).update("\n".join(problems))

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if self.can_save:
            self.dismiss(self.entered())


def open_settings(app: GgufTuiApp) -> None:
    """The app's settings, saved to config.toml (unknown keys kept)."""
    config = app.config
    defaults = Settings()
    editable = [f.name for f in fields(Settings) if f.name not in ("keymap", "default_model")]
    values = {name: _as_text(getattr(config.settings, name)) for name in editable}
    note = f"Saved in {config.path}. Key bindings: edit [keymap] there."
    if config.broken:
        note = (
            f"{config.path} could not be read, so it will not be written over: "
            f"{'; '.join(config.problems)}"
        )

    def saved(entered: dict | None) -> None:
        if entered is None:
            return
        raw, problems = {}, []
        for name, text in entered.items():
            try:
                raw[name] = _parse(text, getattr(defaults, name))
            except ValueError:
                problems.append(f"{name}: '{text}' is not a number")
        settings, more = settings_from_dict({**config.raw, **raw})
        if problems or more:
            app.notify("\n".join(problems + more), title="Settings not saved", severity="error")
            return
        app.apply_settings(settings)

    app.push_screen(FormScreen("Settings", values, SETTING_HELP, note, not config.broken), saved)


def open_conversation_settings(app: GgufTuiApp, conversation_id: int) -> None:
    """One conversation's overrides; an empty field means "the app's setting"."""
    conv = app.store.get_conversation(conversation_id)
    if conv is None:
        return
    values = {k: _as_text(conv.settings.get(k)) for k in CONVERSATION_KEYS}
    help_text = {k: SETTING_HELP.get(k, "") for k in CONVERSATION_KEYS} | _CONVERSATION_HELP
    defaults = Settings()

    def saved(entered: dict | None) -> None:
        if entered is None:
            return
        overrides: dict[str, Any] = {}
        for key, text in entered.items():
            if not text.strip():
                continue
            default = 0 if key == "seed" else getattr(defaults, key)
            try:
                overrides[key] = _parse(text, default)
            except ValueError:
                app.notify(f"{key}: '{text}' is not a number", severity="error")
                return
        store = app.store
        if not app.saved(
            "save", lambda: store.set_conversation_settings(conversation_id, overrides)
        ):
            return
        app.chat_screen.show_header()
        app.notify("Saved for this conversation." if overrides else "Using the app's settings.")

    note = "Empty fields use the app's settings (ctrl+comma)."
    app.push_screen(
        FormScreen(f"Settings of “{conv.title or 'this conversation'}”", values, help_text, note),
        saved,
    )
