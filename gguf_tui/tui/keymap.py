"""Every key binding of the app in one place, each with an id so users can remap it.

`[keymap]` in config.toml maps a binding id to keys, e.g. `new_chat = "ctrl+t"`;
Textual's `App.set_keymap` applies it. The help screen and the command palette
are generated from this table, so they can never drift from the real bindings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class KeyAction:
    id: str
    keys: str
    action: str
    description: str
    help: str
    show: bool = True  # in the footer: only the main keys, so they fit 80 columns
    priority: bool = True  # works even while the prompt has focus


APP_ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("help", "f1", "help", "Help", "Show every key binding"),
    KeyAction("quit", "ctrl+q", "quit", "Quit", "Stop generating and quit"),
    KeyAction(
        "command_palette",
        "ctrl+p",
        "command_palette",
        "Commands",
        "Search every command",
        show=False,
    ),
)

CHAT_ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("stop", "escape", "stop", "Stop", "Stop the answer being written (it is kept)"),
    KeyAction("new_chat", "ctrl+n", "new_chat", "New", "Start a new conversation"),
    KeyAction(
        "previous_chat",
        "ctrl+up,alt+up",
        "previous_chat",
        "Prev chat",
        "Open the previous conversation",
        show=False,
    ),
    KeyAction(
        "next_chat",
        "ctrl+down,alt+down",
        "next_chat",
        "Next chat",
        "Open the next conversation",
        show=False,
    ),
    KeyAction(
        "regenerate",
        "ctrl+r",
        "regenerate",
        "Regenerate",
        "Answer the last message again with a new seed",
        show=False,
    ),
    KeyAction(
        "toggle_sidebar",
        "ctrl+b",
        "toggle_sidebar",
        "Sidebar",
        "Show or hide the conversation list",
        show=False,
    ),
    KeyAction("search", "ctrl+f", "search", "Search", "Search every conversation", show=False),
    KeyAction("rename", "f2", "rename", "Rename", "Rename this conversation", show=False),
    KeyAction(
        "export",
        "ctrl+e",
        "export",
        "Export",
        "Export this conversation to Markdown or JSON",
        show=False,
    ),
    KeyAction("pick_model", "ctrl+o", "pick_model", "Model", "Choose the model"),
    KeyAction(
        "switch_quant",
        "f3",
        "switch_quant",
        "Quant",
        "Switch to another quantization of this model, keeping the conversation",
    ),
    KeyAction(
        "compare",
        "ctrl+k",
        "compare",
        "Compare",
        "Answer the last message again with another quantization, side by side",
        show=False,
    ),
    KeyAction(
        "score_conversation",
        "f8",
        "score_conversation",
        "Score",
        "Score this conversation: the quant in use against its highest-precision sibling",
        show=False,
    ),
    KeyAction(
        "load_conversation_model",
        "ctrl+l",
        "load_conversation_model",
        "Its model",
        "Load the model that last answered this conversation",
        show=False,
    ),
    KeyAction(
        "settings",
        "ctrl+comma,f10",
        "settings",
        "Settings",
        "Edit the settings (config.toml)",
        show=False,
    ),
    KeyAction(
        "conversation_settings",
        "f4",
        "conversation_settings",
        "Chat settings",
        "This conversation's own system prompt, sampling and context size",
        show=False,
    ),
    KeyAction(
        "copy_answer",
        "f5",
        "copy_answer",
        "Copy",
        "Copy the last answer to the clipboard",
    ),
    KeyAction(
        "copy_code",
        "f6",
        "copy_code",
        "Copy code",
        "Copy a code block of the highlighted message or the last answer (again: the next one)",
        show=False,
    ),
    KeyAction(
        "copy_message",
        "c,y",
        "copy_message",
        "Copy message",
        "Copy the highlighted message (tab to the conversation; up/down move the highlight)",
        show=False,
        priority=False,  # plain letters: only where no text is being typed
    ),
)

# Keys of the prompt itself (not remappable through the table above).
PROMPT_KEYS: tuple[tuple[str, str], ...] = (
    ("enter", "Send the message"),
    ("shift+enter, ctrl+j", "New line in the message"),
    ("up", "In an empty prompt: edit the last message you sent"),
    ("delete", "In the sidebar: delete the highlighted conversation"),
    ("tab / shift+tab", "Move between sidebar, conversation and prompt"),
)


def to_bindings(actions: tuple[KeyAction, ...]) -> list[BindingType]:
    return [
        Binding(
            a.keys,
            a.action,
            a.description,
            show=a.show,
            priority=a.priority,
            id=a.id,
            tooltip=a.help,
        )
        for a in actions
    ]


# -- checking `[keymap]` ---------------------------------------------------------------------
MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
# Keys the prompt needs for typing and editing: a binding that works while the prompt has
# focus (priority) must not take them.
PROMPT_RESERVED = frozenset(
    {
        "enter",
        "shift+enter",
        "ctrl+j",
        "tab",
        "shift+tab",
        "up",
        "down",
        "left",
        "right",
        "backspace",
        "delete",
        "home",
        "end",
        "space",
    }
)
_APP, _CHAT = "app", "chat"


@dataclass(frozen=True, slots=True)
class _Remappable:
    keys: str
    scope: str  # "app" (every screen), "chat", or the class that holds the binding
    priority: bool
    name: str  # what it does, for the message


def _remappable() -> dict[str, _Remappable]:
    """Every binding id `[keymap]` may name, with its default keys and where it applies."""
    from gguf_tui.tui.screens.bench import BenchScreen
    from gguf_tui.tui.screens.compare import CompareScreen
    from gguf_tui.tui.screens.picker import ModelPicker
    from gguf_tui.tui.widgets.local_models import LocalModels
    from gguf_tui.tui.widgets.prompt import PromptArea

    found = {a.id: _Remappable(a.keys, _APP, a.priority, a.description) for a in APP_ACTIONS}
    found |= {a.id: _Remappable(a.keys, _CHAT, a.priority, a.description) for a in CHAT_ACTIONS}
    for cls, scope in (
        (PromptArea, _CHAT),
        (BenchScreen, "bench"),
        (CompareScreen, "compare"),
        (ModelPicker, "picker"),
        (LocalModels, "picker"),
    ):
        for b in getattr(cls, "BINDINGS", ()):
            if isinstance(b, Binding) and b.id and b.id not in found:
                found[b.id] = _Remappable(b.key, scope, b.priority, b.description or b.action)
    return found


def key_problem(key: str) -> str | None:
    """Why `key` is not a key a keyboard sends as Textual names it (`ctrl+banana`), else None."""
    from textual.keys import KEY_NAME_REPLACEMENTS, Keys, key_to_character

    if not key:
        return "an empty key"
    *mods, name = key.split("+") if key != "+" else ["+"]
    bad = [m for m in mods if m not in MODIFIERS]
    if bad or len(set(mods)) != len(mods):
        return f"'{bad[0] if bad else mods[0]}' is not a modifier (ctrl, shift, alt, meta, super)"
    named = {k.value.rsplit("+", 1)[-1] for k in Keys} | set(KEY_NAME_REPLACEMENTS.values())
    named |= {f"f{i}" for i in range(1, 25)} | {"space", "tab", "enter", "backspace"}
    if name in named or (len(name) == 1 and name.isprintable()):
        return None
    try:
        char = key_to_character(name)
    except (KeyError, ValueError):
        char = None
    if char is not None and len(char) == 1 and char.isascii() and char.isprintable():
        return None
    return f"'{name}' is not a key"


def _takes_typing(key: str) -> bool:
    """Keys that type or edit text in the prompt: enter, arrows, a letter, shift+letter."""
    if key in PROMPT_RESERVED:
        return True
    from textual.keys import key_to_character

    *mods, name = key.split("+") if key != "+" else ["+"]
    if mods and mods != ["shift"]:
        return False
    try:
        char = key_to_character(name) if len(name) > 1 else name
    except (KeyError, ValueError):
        char = None
    return char is not None and len(char) == 1


def _quoted(text: object) -> str:
    value = str(text)
    safe = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in value[:41])
    return f'"{safe[:40]}…"' if len(safe) > 40 else f'"{safe}"'


def check_keymap(keymap: Mapping[str, object]) -> tuple[dict[str, str], list[str]]:
    """The `[keymap]` entries that can be applied, and one line for each that cannot.

    Refused, each with a notice naming the key and keeping the default: an unknown binding
    id, a value that is not text, a key no keyboard sends (`ctrl+banana`), a key the
    prompt types or edits with (`enter`, `up`, a letter) for a binding that works while
    it has focus, and a key that another binding of the same screen (or of every screen)
    already has (`new_chat = "ctrl+q"` beside quit)."""
    known = _remappable()
    problems: list[str] = []
    accepted: dict[str, str] = {}
    for bid, value in keymap.items():
        entry = f"keymap: {shown_id(bid)} = {_quoted(value)}"
        if bid not in known:
            problems.append(f"{entry}: there is no binding '{shown_id(bid)}' (f1 lists the ids)")
            continue
        default = known[bid].keys
        keys = [k.strip() for k in value.split(",")] if isinstance(value, str) else []
        why = "" if keys and all(keys) else 'not a list of keys such as "ctrl+t" or "f7,ctrl+t"'
        for key in keys if not why else []:
            if problem := key_problem(key):
                why = problem
            elif known[bid].priority and known[bid].scope in (_APP, _CHAT) and _takes_typing(key):
                why = f"{key} is needed for typing in the prompt"
            if why:
                break
        if why:
            problems.append(f"{entry}: {why}; keeping {default}")
            continue
        accepted[bid] = ",".join(keys)
    while clash := _first_clash(known, accepted):
        bid, other, key = clash
        problems.append(
            f"keymap: {bid} = {_quoted(accepted.pop(bid))}: {key} is already the key of "
            f"{other} ({known[other].name}); keeping {known[bid].keys}"
        )
    return accepted, problems


def _first_clash(
    known: dict[str, _Remappable], accepted: dict[str, str]
) -> tuple[str, str, str] | None:
    """(a remapped id, the binding it collides with, the key), or None when all is well."""
    keys = {bid: set(accepted.get(bid, r.keys).split(",")) for bid, r in known.items()}
    for bid in accepted:
        for other, theirs in keys.items():
            if other == bid:
                continue
            same_place = _APP in (known[bid].scope, known[other].scope) or (
                known[bid].scope == known[other].scope
            )
            shared = keys[bid] & theirs
            if same_place and shared:
                return bid, other, sorted(shared)[0]
    return None


def shown_id(text: object) -> str:
    return _quoted(text)[1:-1]
