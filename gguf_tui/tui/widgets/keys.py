"""Keys handled in the order they were typed, whatever the terminal's read boundaries.

Textual runs a widget's key bindings (backspace, arrows, tab …) only once the key has
bubbled up to the app, through every parent's message queue, while printable keys are
inserted at once. When a terminal delivers a burst in one read (fast typing, ssh, a
script, `tmux send-keys`), `ab<backspace>c` then becomes `ab` instead of `ac`, and a
tab moves the focus only after the characters typed behind it landed in the old field.
Widgets that take typed text run their own bindings at once, in key order, instead.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget


async def run_own_binding(widget: Widget, event: events.Key) -> bool:
    """Run `widget`'s own (non-priority) binding for this key now; whether there was one."""
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        if binding.priority:
            continue
        event.stop()
        event.prevent_default()
        await widget.run_action(binding.action)
        return True
    return False
