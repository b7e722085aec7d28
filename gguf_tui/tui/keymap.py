"""Every key binding of the app in one place, each with an id so users can remap it.

`[keymap]` in config.toml maps a binding id to keys, e.g. `new_chat = "ctrl+t"`;
Textual's `App.set_keymap` applies it. The help screen and the command palette
are generated from this table, so they can never drift from the real bindings.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


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


def to_bindings(actions: tuple[KeyAction, ...]) -> list[Binding]:
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
