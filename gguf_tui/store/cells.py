"""Turning database cells into record fields, whatever a hand edit put in them.

SQLite's column types are suggestions: a cell can hold a BLOB where text belongs,
text in a time column, NULL past a NOT NULL a tool removed, `1e300` as a time. A
record is built from every row through these, so such a cell shows as something
plain (an empty text, the epoch, no figures) and never makes a conversation
unreadable: nothing past the record boundary sees a wrong type.
"""

from __future__ import annotations

import json
import math
from typing import Any

from gguf_tui.store.records import ROLES, Conversation, Message

# Times outside what `datetime.fromtimestamp` takes everywhere (years 1970 .. 9999)
# read as 0: "1970-01-01" is plainly no real time, and formatting it cannot fail.
LATEST_TIME = 253_402_214_400.0  # 9999-12-31 00:00 UTC
MAX_INT = 2**63 - 1  # what SQLite itself can hold
MAX_JSON = 4 * 1024 * 1024  # a settings or stats cell larger than this is not ours
STRING_STATS = frozenset({"waited_for"})  # the one GenerationStats field that is text


def text(value: Any, default: str = "") -> str:
    """Text from any cell: bytes decode leniently, numbers print, NULL is `default`."""
    if value is None:
        return default
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def optional_text(value: Any) -> str | None:
    return None if value is None else text(value)


def number(value: Any) -> float | None:
    """A finite float, or None when the cell holds none (text that is no number too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value) if abs(value) < 1e308 else math.inf
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def time(value: Any) -> float:
    """Unix seconds that any date formatting accepts; 0.0 for anything else."""
    seconds = number(value)
    return seconds if seconds is not None and 0.0 <= seconds <= LATEST_TIME else 0.0


def count(value: Any) -> int:
    """A whole number of at least 0 (a message count); 0 for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return min(max(value, 0), MAX_INT)
    found = number(value)
    return int(min(max(found, 0.0), MAX_INT)) if found is not None else 0


def row_id(value: Any) -> int:
    """An id column: INTEGER PRIMARY KEY is always an int, a reference may not be."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    found = number(value)
    return int(found) if found is not None and abs(found) <= MAX_INT else 0


def json_object(value: Any) -> dict | None:
    """A JSON object from a cell, or None: not JSON, not an object, too big or too deep."""
    if value is None:
        return None
    raw = text(value)
    if len(raw) > MAX_JSON:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def settings(value: Any) -> dict:
    """A conversation's overrides: only text keys with plain values (no nesting)."""
    data = json_object(value) or {}
    plain = (str, int, float, bool)
    return {
        k: v
        for k, v in data.items()
        if isinstance(v, plain) and not (isinstance(v, float) and not math.isfinite(v))
    }


def stats(value: Any) -> dict | None:
    """An answer's figures (GenerationStats.to_dict()): finite numbers, and text only
    where the engine writes text, so formatting `{x:.1f}` on any of them cannot fail."""
    data = json_object(value)
    if data is None:
        return None
    kept: dict[str, Any] = {}
    for key, item in data.items():
        if key in STRING_STATS:
            if isinstance(item, str):
                kept[key] = item
        elif isinstance(item, int) and not isinstance(item, bool):
            if abs(item) <= MAX_INT:
                kept[key] = item
        elif isinstance(item, float) and math.isfinite(item):
            kept[key] = item
    return kept


def conversation(row: tuple) -> Conversation:
    """A record from a `conversations` row (database._CONVERSATION's columns)."""
    cid, title, created, updated, model_file, quant, messages, overrides = row
    return Conversation(
        row_id(cid),
        text(title),
        time(created),
        time(updated),
        optional_text(model_file),
        optional_text(quant),
        count(messages),
        settings=settings(overrides),
    )


def message(row: tuple) -> Message:
    """A record from a `messages` row (database._MESSAGE's columns)."""
    mid, cid, role, content, reasoning, created, model_file, quant, figures, finish, parent = row
    role = text(role)
    return Message(
        row_id(mid),
        row_id(cid),
        role if role in ROLES else "assistant",
        text(content),
        text(reasoning),
        time(created),
        optional_text(model_file),
        optional_text(quant),
        stats=stats(figures),
        finish_reason=optional_text(finish),
        parent_id=None if parent is None else row_id(parent),
    )
