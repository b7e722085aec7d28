"""Settings screens: the app's config.toml, and one conversation's own overrides.

Both are the same small form: one input per key, validated with the same rules
that read config.toml, so the screen can never write a file the app would then
refuse. A config file that did not parse is never written over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from gguf_tui.config.settings import (
    PROFILE_KEYS,
    SETTING_HELP,
    Settings,
    profiles_from_dict,
    settings_from_dict,
)
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import literal
from gguf_tui.tui.widgets.keys import run_own_binding

if TYPE_CHECKING:
    from gguf_tui.tui.app import GgufTuiApp

# Keys a conversation may override (sampling, system prompt, how the model loads).
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
    "cache_type_k",
    "cache_type_v",
    "flash_attn",
    "think",
)
_CONVERSATION_HELP = {
    "cache_type_k": "KV cache type for keys: f16, q8_0, q4_0, … (llama.cpp -ctk; empty or "
    "default = the app's or the model's profile); the model reloads with it",
    "cache_type_v": "KV cache type for values (llama.cpp -ctv); a quantized one turns "
    "flash attention on",
    "flash_attn": "flash attention: auto, on or off (llama.cpp -fa; empty = the app's)",
    "seed": "fixed seed for every answer here (empty = a new one each time)",
    "think": "on or off: reasoning first, for a model whose template has the switch; low, "
    "medium or high for a reasoning_effort one (empty or default = the app's setting)",
}


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
        value = float(text or 0)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(text)
        return value
    return text


def _kind(default: Any) -> str:
    return "a whole number" if isinstance(default, int) else "a number"


# A form's check: the entered text per key -> (the result to save, problems per key).
FormCheck = Callable[[dict[str, str]], tuple[Any, dict[str, str]]]


class FollowFocusInput(Input):
    """An input that moves the focus itself and hands later keys on to the next field.

    The app forwards each key to the widget focused when it *receives* the key, and tab
    normally moves the focus only once it has bubbled up to the screen's binding. Typed
    fast (or by a script), `0.5<tab>42` reaches this input whole, and `42` would land
    here instead of in the next field. So tab moves the focus at once, in this input's
    own key order, and a key that arrives here after that goes where the user meant."""

    FOCUS_KEYS = {"tab": "focus_next", "shift+tab": "focus_previous"}

    async def _on_key(self, event: events.Key) -> None:
        focused = self.screen.focused if self.is_attached else None
        if event.key in self.FOCUS_KEYS and focused is self:
            event.stop()
            event.prevent_default()
            getattr(self.screen, self.FOCUS_KEYS[event.key])()
            return
        if focused is not None and focused is not self:
            event.stop()
            event.prevent_default()
            focused.post_message(events.Key(event.key, event.character))
            return
        if not await run_own_binding(self, event):
            await super()._on_key(event)


class FormScreen(ModalScreen[Any]):
    """A titled list of labelled inputs with Save (ctrl+s, enter) and Cancel (escape).

    The first field has focus on open. Save runs `check`; a field with a problem gets
    it written beside it and the form stays open with everything the user typed."""

    BINDINGS = to_bindings(keymap.FORM_ACTIONS)

    def __init__(
        self,
        title: str,
        values: dict[str, str],
        help_text: dict[str, str],
        check: FormCheck,
        note: str = "",
        can_save: bool = True,
        extra: tuple[str, Any] | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.values = values
        self.help_text = help_text
        self.check = check
        self.note = note
        self.can_save = can_save
        self.extra = extra  # another button: its label, and the result it closes with

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
                    yield FollowFocusInput(value, id=f"field-{key}", classes="field")
                    yield Static("", id=f"problem-{key}", classes="field-problem", markup=False)
            yield Static("", id="form-problems", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(
                    "Save (ctrl+s)", variant="primary", id="save", disabled=not self.can_save
                )
                yield Button("Cancel", id="cancel")
                if self.extra is not None:
                    yield Button(self.extra[0], id="extra")

    def on_mount(self) -> None:
        if self.values:
            self.query_one(f"#field-{next(iter(self.values))}", Input).focus()

    def entered(self) -> dict[str, str]:
        return {k: self.query_one(f"#field-{k}", Input).value for k in self.values}

    def show_problems(self, problems: dict[str, str]) -> None:
        """Each problem under its field; the first bad field gets the focus."""
        for key in self.values:
            widget = self.query_one(f"#problem-{key}", Static)
            widget.update(f"⚠ {problems[key]}" if key in problems else "")
            widget.display = key in problems
        summary = ""
        if problems:
            summary = f"Not saved: {len(problems)} field(s) to correct ({', '.join(problems)})."
            first = next(k for k in self.values if k in problems)
            field = self.query_one(f"#field-{first}", Input)
            field.focus()
            field.scroll_visible()
        self.query_one("#form-problems", Static).update(summary)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Input.Submitted)
    def _field_submitted(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#extra")
    def _extra_pressed(self) -> None:
        if self.extra is not None:
            self.dismiss(self.extra[1])

    def action_save(self) -> None:
        if not self.can_save:
            return
        result, problems = self.check(self.entered())
        if problems:
            self.show_problems(problems)
        else:
            self.dismiss(result)


def check_settings(base: dict[str, Any], entered: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """The settings the form describes on top of config.toml's `base`, or its problems."""
    defaults = Settings()
    raw: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, text in entered.items():
        default = getattr(defaults, name)
        try:
            raw[name] = _parse(text, default)
        except ValueError:
            problems[name] = f"'{literal(text.strip())}' is not {_kind(default)}"
            continue
        _, more = settings_from_dict({name: raw[name]})
        if more:
            problems[name] = more[0].removesuffix("; using the default")
    if problems:
        return None, problems
    settings, _ = settings_from_dict({**base, **raw})
    return settings, {}


_CHOSEN = ("cache_type_k", "cache_type_v", "flash_attn", "think")  # "default" = the app's


def check_overrides(entered: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """One conversation's overrides (empty fields left out), or their problems."""
    defaults = Settings()
    overrides: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, text in entered.items():
        if not text.strip() or (key in _CHOSEN and text.strip().lower() == "default"):
            continue  # the app's setting
        default = 0 if key == "seed" else getattr(defaults, key)
        try:
            overrides[key] = _parse(text, default)
        except ValueError:
            problems[key] = f"'{literal(text.strip())}' is not {_kind(default)}"
            continue
        if key == "seed":
            continue
        _, more = settings_from_dict({key: overrides[key]})  # config.toml's own rules
        if more:
            problems[key] = more[0].removesuffix("; using the default")
    return (None, problems) if problems else (overrides, {})


def open_settings(app: GgufTuiApp) -> None:
    """The app's settings, saved to config.toml (unknown keys kept)."""
    config = app.config
    editable = [
        f.name for f in fields(Settings) if f.name not in ("keymap", "default_model", "models")
    ]
    values = {name: _as_text(getattr(config.settings, name)) for name in editable}
    note = f"Saved in {config.path}. Key bindings: edit [keymap] there."
    if config.broken:
        note = (
            f"{config.path} could not be read, so it will not be written over: "
            f"{'; '.join(config.problems)}"
        )

    info = app.engine.info
    extra = None
    name = ""
    if info is not None and info.path is not None and not config.broken:
        from gguf_tui.config.profiles import profile_name

        name = profile_name(config, info.path, info.name)
        # A constant label: a Button reads markup, and the name comes from a file.
        extra = ("This model's settings…", _PROFILE)

    def saved(settings: Settings | str | None) -> None:
        if settings == _PROFILE:  # opened once this form is gone
            open_profile(app, name)
        elif isinstance(settings, Settings):
            app.apply_settings(settings)

    app.push_screen(
        FormScreen(
            "Settings",
            values,
            SETTING_HELP,
            lambda entered: check_settings(config.raw, entered),
            note,
            not config.broken,
            extra,
        ),
        saved,
    )


_PROFILE = "profile"  # the settings form's result when its model's profile is asked for


def check_profile(name: str, entered: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """A model's profile from its form (empty fields left out), or its problems, by the
    rules that read [models."NAME"] from config.toml."""
    defaults = Settings()
    profile: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, text in entered.items():
        if not text.strip():
            continue
        default = getattr(defaults, key)
        try:
            profile[key] = _parse(text, default)
        except ValueError:
            problems[key] = f"'{literal(text.strip())}' is not {_kind(default)}"
            continue
        _, more = profiles_from_dict({name: {key: profile[key]}})
        if more:
            problems[key] = more[0].split(": ", 1)[1].removesuffix("; left out")
    if problems:
        return None, problems
    return profiles_from_dict({name: profile})[0][name], {}


def open_profile(app: GgufTuiApp, name: str) -> None:
    """One model's own settings, saved as config.toml's [models."NAME"]: applied on every
    load of it and every switch between its quantizations."""
    from gguf_tui.config.profiles import save_profile
    from gguf_tui.config.settings import ConfigError

    config = app.config
    profile = config.settings.models.get(name, {})
    values = {k: _as_text(profile.get(k)) for k in PROFILE_KEYS}

    def saved(result: dict[str, Any] | None) -> None:
        if result is None:
            return
        try:
            save_profile(config, name, result)
        except (OSError, ConfigError) as exc:
            app.notify(f"Cannot save the settings: {exc}", severity="error")
            return
        app.apply_settings(config.settings)

    note = (
        f'Saved in {config.path} as [models."{name}"], for every quantization of it. '
        "Empty fields use the app's settings; the command line still wins."
    )
    app.push_screen(
        FormScreen(
            f"Settings of {name}",
            values,
            {k: SETTING_HELP.get(k, "") for k in PROFILE_KEYS},
            lambda entered: check_profile(name, entered),
            note,
        ),
        saved,
    )


def open_conversation_settings(
    app: GgufTuiApp, conversation_id: int, on_saved: Callable[[], None] | None = None
) -> None:
    """One conversation's overrides; an empty field means "the app's setting".
    `on_saved` runs once they are saved (the chat screen shows them in its header)."""
    conv = app.store.get_conversation(conversation_id)
    if conv is None:
        return
    values = {k: _as_text(conv.settings.get(k)) for k in CONVERSATION_KEYS}
    help_text = {k: SETTING_HELP.get(k, "") for k in CONVERSATION_KEYS} | _CONVERSATION_HELP

    def saved(overrides: dict[str, Any] | None) -> None:
        if overrides is None:
            return
        store = app.store
        if not app.saved(
            "save", lambda: store.set_conversation_settings(conversation_id, overrides)
        ):
            return
        if on_saved is not None:
            on_saved()
        app.notify("Saved for this conversation." if overrides else "Using the app's settings.")

    note = "Empty fields use the app's settings (ctrl+comma)."
    app.push_screen(
        FormScreen(
            f"Settings of “{conv.title or 'this conversation'}”",
            values,
            help_text,
            check_overrides,
            note,
        ),
        saved,
    )
