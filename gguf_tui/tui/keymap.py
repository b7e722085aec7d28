"""Every key binding of the app in one place, each with an id so users can remap it.

One table per scope (the app, the chat screen, the prompt, the picker …); each class
that has keys says `BINDINGS = to_bindings(keymap.X)`, the help screen and the command
palette are generated from the same tables, and `[keymap]` is checked against them, so
the keys a user presses, reads in f1 and remaps can never drift apart.

`[keymap]` in config.toml maps a binding id to keys, e.g. `new_chat = "ctrl+t"`;
Textual's `App.set_keymap` applies it.
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
    KeyAction(
        "previous_version",
        "alt+left",
        "previous_version",
        "Prev version",
        "Show the previous version (‹) of the highlighted message, or of the last answer",
        show=False,
    ),
    KeyAction(
        "next_version",
        "alt+right",
        "next_version",
        "Next version",
        "Show the next version (›) of the highlighted message, or of the last answer",
        show=False,
    ),
    KeyAction(
        "continue_answer",
        "f7",
        "continue_answer",
        "Continue",
        "Continue the last answer where it stopped (a stopped or cut-off answer)",
        show=False,
    ),
    KeyAction(
        "fork_conversation",
        "f9",
        "fork_conversation",
        "Fork",
        "Copy the branch shown, up to the highlighted message, into a new conversation",
        show=False,
    ),
    KeyAction(
        "delete_branch",
        "delete",
        "delete_branch",
        "Delete version",
        "Delete the highlighted version and everything below it (asks first; "
        "tab to the conversation)",
        show=False,
        priority=False,  # only with the conversation focused: the prompt deletes text
    ),
)


def local_key(
    id: str, keys: str, action: str, description: str, help: str, show: bool = True
) -> KeyAction:
    """A key of one screen or widget: it works where that has focus, never over the prompt."""
    return KeyAction(id, keys, action, description, help, show=show, priority=False)


# The prompt runs its own bindings in key order (widgets/keys.py), so they are not priority.
PROMPT_ACTIONS: tuple[KeyAction, ...] = (
    local_key("send", "enter", "submit", "Send", "Send the message"),
    local_key(
        "newline", "shift+enter,ctrl+j", "newline", "New line", "New line in the message", False
    ),
)
# The conversation view (tab to it): the highlight that copy, versions and fork act on.
CONVERSATION_ACTIONS: tuple[KeyAction, ...] = (
    local_key(
        "conversation.edit",
        "enter,e",
        "edit_highlighted",
        "Edit message",
        "Edit the highlighted message you wrote, as a new version",
        False,
    ),
    local_key(
        "conversation.previous",
        "up",
        "move_highlight(-1)",
        "Previous message",
        "Highlight the previous message",
        False,
    ),
    local_key(
        "conversation.next",
        "down",
        "move_highlight(1)",
        "Next message",
        "Highlight the next message",
        False,
    ),
    local_key(
        "conversation.first",
        "home",
        "highlight_end(0)",
        "First message",
        "Highlight the first message",
        False,
    ),
    local_key(
        "conversation.last",
        "end",
        "highlight_end(-1)",
        "Last message",
        "Highlight the last message",
        False,
    ),
)
SIDEBAR_ACTIONS: tuple[KeyAction, ...] = (
    local_key(
        "sidebar.delete",
        "delete",
        "delete",
        "Delete",
        "Delete the highlighted conversation (asks first)",
        False,
    ),
)
PICKER_ACTIONS: tuple[KeyAction, ...] = (
    local_key("picker.close", "escape", "close", "Close", "Close"),
    local_key(
        "picker.local", "ctrl+l", "tab('local')", "Local", "Show the models on this computer"
    ),
    local_key(
        "picker.hub", "ctrl+g", "tab('hub')", "Hugging Face", "Search Hugging Face for GGUF models"
    ),
    local_key(
        "picker.servers",
        "ctrl+r",
        "tab('servers')",
        "Servers",
        "Show the models of the servers in config.toml",
    ),
    local_key(
        "picker.cancel",
        "ctrl+x",
        "cancel_download",
        "Cancel download",
        "Cancel the download in progress",
    ),
)
LOCAL_MODELS_ACTIONS: tuple[KeyAction, ...] = (
    local_key(
        "picker.sort", "ctrl+s", "cycle_sort", "Sort", "Sort the local models by name, size or date"
    ),
)
# Escape goes back from a repository's quantizations to the search results; with nothing
# to go back to it is the picker's own escape (close). A scope of its own: the same key.
HUB_ACTIONS: tuple[KeyAction, ...] = (
    local_key(
        "hub.back", "escape", "back", "Back", "Back from a repository's files to the search results"
    ),
)
QUANT_SWITCHER_ACTIONS: tuple[KeyAction, ...] = (
    local_key("switcher.cancel", "escape", "dismiss(None)", "Cancel", "Cancel"),
)
COMPARE_ACTIONS: tuple[KeyAction, ...] = (
    local_key(
        "compare.left",
        "1",
        "keep('original')",
        "Keep left",
        "Keep the left answer (the quantization loaded before)",
    ),
    local_key(
        "compare.right",
        "2",
        "keep('new')",
        "Keep right",
        "Keep the right answer and the quantization that wrote it",
    ),
    local_key(
        "compare.cancel",
        "escape",
        "keep('original')",
        "Stop / keep left",
        "Stop the new answer; keep the left one",
    ),
)
BENCH_ACTIONS: tuple[KeyAction, ...] = (
    local_key("bench.close", "escape", "close", "Close", "Close"),
    local_key("bench.rerun", "r", "rerun", "Run again", "Run the benchmark again"),
)
FORM_ACTIONS: tuple[KeyAction, ...] = (  # the settings forms (screens/settings.py)
    local_key("form.cancel", "escape", "dismiss(None)", "Cancel", "Cancel"),
    local_key("form.save", "ctrl+s", "save", "Save", "Save"),
)
CONFIRM_ACTIONS: tuple[KeyAction, ...] = (
    local_key("confirm.no", "escape,n", "dismiss(False)", "No", "Answer no (keep it)"),
    local_key("confirm.yes", "y", "dismiss(True)", "Yes", "Answer yes"),
)
DIALOG_ACTIONS: tuple[KeyAction, ...] = (  # a line of text to type, export
    local_key("dialog.cancel", "escape", "dismiss(None)", "Cancel", "Cancel"),
)
HELP_ACTIONS: tuple[KeyAction, ...] = (
    # Not f1: the app's f1 (priority, every screen) runs first and would make it dead.
    local_key("help.close", "escape,q", "dismiss(None)", "Close", "Close this help"),
)


@dataclass(frozen=True, slots=True)
class HelpSection:
    """One section of f1: a screen's tables, then the keys its widgets read themselves."""

    title: str  # `{id}` stands for that binding's keys as configured
    actions: tuple[KeyAction, ...]
    notes: tuple[tuple[str, str], ...] = ()  # (keys, what they do): not bindings, not remappable


_MOVES = (("type", "Filter the list"), ("up, down", "Move the highlight"))
HELP_SECTIONS: tuple[HelpSection, ...] = (
    HelpSection("Chat", CHAT_ACTIONS),
    HelpSection(
        "Prompt (while typing a message)",
        PROMPT_ACTIONS,
        (
            ("up", "In an empty prompt: edit the last message you sent"),
            ("tab, shift+tab", "Move between sidebar, conversation and prompt"),
        ),
    ),
    HelpSection(
        "Conversation ({copy_message} and versions act on the highlight)", CONVERSATION_ACTIONS
    ),
    HelpSection(
        "Sidebar ({toggle_sidebar})",
        SIDEBAR_ACTIONS,
        (("up, down, enter", "Move the highlight; open the highlighted conversation"),),
    ),
    HelpSection("Everywhere", APP_ACTIONS),
    HelpSection(
        "Model picker ({pick_model})",
        (*PICKER_ACTIONS, *LOCAL_MODELS_ACTIONS, *HUB_ACTIONS),
        (
            *_MOVES,
            (
                "enter",
                "Load the highlighted model; on Hugging Face open the repository, "
                "then download and load the highlighted file",
            ),
        ),
    ),
    HelpSection(
        "Quantization switcher ({switch_quant}; {compare} picks the other side of a comparison)",
        QUANT_SWITCHER_ACTIONS,
        (*_MOVES, ("enter", "Switch to the highlighted quantization")),
    ),
    HelpSection("Compare ({compare})", COMPARE_ACTIONS),
    HelpSection("Benchmark (ctrl+p: Benchmark quantizations)", BENCH_ACTIONS),
    HelpSection(
        "Settings forms ({settings}; {conversation_settings} for this conversation)",
        FORM_ACTIONS,
        (("tab, shift+tab", "Next / previous field"), ("enter", "Save")),
    ),
    HelpSection(
        "Questions, export and this help",
        (*CONFIRM_ACTIONS, *DIALOG_ACTIONS, *HELP_ACTIONS),
        (("enter", "Confirm the text typed"),),
    ),
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
    scope: str  # "app" (every screen), "chat", or the screen or widget that holds it
    priority: bool
    name: str  # what it does, for the message


# Where each table's keys apply, for `[keymap]` conflicts: two bindings of one scope (or one
# of "app") may not share a key. The prompt lives on the chat screen; the hub browser's and
# the conversation view's keys only while they have focus, so the same key can mean
# something else on the screen around them.
SCOPES: tuple[tuple[str, tuple[KeyAction, ...]], ...] = (
    (_APP, APP_ACTIONS),
    (_CHAT, CHAT_ACTIONS),
    (_CHAT, PROMPT_ACTIONS),
    ("conversation", CONVERSATION_ACTIONS),
    ("sidebar", SIDEBAR_ACTIONS),
    ("picker", PICKER_ACTIONS),
    ("picker", LOCAL_MODELS_ACTIONS),
    ("hub", HUB_ACTIONS),
    ("switcher", QUANT_SWITCHER_ACTIONS),
    ("compare", COMPARE_ACTIONS),
    ("bench", BENCH_ACTIONS),
    ("form", FORM_ACTIONS),
    ("confirm", CONFIRM_ACTIONS),
    ("dialog", DIALOG_ACTIONS),
    ("help", HELP_ACTIONS),
)


def _remappable() -> dict[str, _Remappable]:
    """Every binding id `[keymap]` may name, with its default keys and where it applies."""
    return {
        a.id: _Remappable(a.keys, scope, a.priority, a.description)
        for scope, actions in SCOPES
        for a in actions
    }


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
    return char is not None and len(char) == 1 and char.isprintable()  # not escape


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
