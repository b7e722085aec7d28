"""Conversations written into a fresh home's database before `gguf-tui` starts, and the
clipboard writes (OSC 52) read back out of what the app wrote to the terminal."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from gguf_tui.store.database import Store
from tests.terminal.harness import Home, Terminal

STATS = {
    "prompt_tokens": 20,
    "generated_tokens": 42,
    "time_to_first_token": 0.05,
    "generation_tokens_per_second": 40.0,
    "prompt_tokens_per_second": 200.0,
    "total_seconds": 1.1,
}

# ESC ] 52 ; c ; BASE64 then BEL or ST (ESC \)
_OSC52 = re.compile(rb"\x1b\]52;[a-z]*;([A-Za-z0-9+/=]*)(?:\x07|\x1b\\)")


@dataclass(frozen=True)
class Seeded:
    id: int
    title: str
    message_ids: list[int]


def seed(
    home: Home,
    *conversations: tuple[str, list[tuple[str, str]]],
    model_file: str = "seed.gguf",
) -> list[Seeded]:
    """Write conversations of (title, [(role, text), …]), oldest first: the last one given
    is the newest, at the top of the sidebar. Answers are complete ("stop"), written by
    `model_file` (give the name of the model the test loads: no "load its model" notice)."""
    made = []
    with Store(home.database) as store:
        for title, messages in conversations:
            conv = store.create_conversation(model_file=model_file, quant="Q4_K_M")
            ids = []
            for role, text in messages:
                extra = (
                    {"model_file": model_file, "quant": "Q4_K_M", "stats": STATS}
                    if role == "assistant"
                    else {}
                )
                finish = "stop" if role == "assistant" else None
                ids.append(store.add_message(conv.id, role, text, finish_reason=finish, **extra).id)
            store.rename_conversation(conv.id, title)
            made.append(Seeded(conv.id, title, ids))
    return made


def copied(term: Terminal) -> list[str]:
    """Every text the app put on the clipboard through OSC 52, in order."""
    with term._lock:
        raw = bytes(term.raw)
    return [base64.b64decode(m.group(1)).decode("utf-8") for m in _OSC52.finditer(raw)]


def notices(term: Terminal) -> str:
    """The text of the notices (toasts) on screen, their wrapped lines joined: a toast is
    drawn at the right edge behind a "▌", beside whatever the screen shows on its left."""
    parts = []
    for line in term.text().splitlines():
        if "▌" in line:
            parts.append(line.rsplit("▌", 1)[1].strip().rstrip("─╯╮│").strip())
    return re.sub(r"\s+", " ", " ".join(p for p in parts if p))


def background(term: Terminal, phrase: str, columns: tuple[int, int] | None = None) -> str:
    """The background colour the screen shows under the first letter of `phrase` (the
    first one found starting within `columns`, e.g. the sidebar's (0, 34))."""
    first, last = columns or (0, term.screen.columns)
    with term._lock:
        for y, line in enumerate(term.screen.display):
            x = line.find(phrase, first)
            if 0 <= x < last:
                return term.screen.buffer[y][x].bg
    raise AssertionError(f"{phrase!r} is not on the screen:\n{term.text()}")
