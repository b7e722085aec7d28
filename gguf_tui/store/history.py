"""The `chat.py` history format: a JSON list of `{"role", "content"}` objects.

Kept byte-compatible with the classic script (UTF-8, indented, non-ASCII
written as is) so old history files keep working in both directions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROLES = ("system", "user", "assistant")


class HistoryError(ValueError):
    """A history file that cannot be used; the message names the file and the fault."""


def read_json(path: str | os.PathLike) -> Any:
    """The parsed contents of a JSON file, or a HistoryError that says what is wrong with it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HistoryError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise HistoryError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise HistoryError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except OSError as exc:
        raise HistoryError(f"cannot read {path}: {exc.strerror or exc}") from None


def parse_history(data: Any, path: str | os.PathLike) -> list[dict[str, str]]:
    """Check already-parsed JSON against the history format; `path` names it in errors."""
    if not isinstance(data, list):
        raise HistoryError(f"{path} should hold a JSON list of messages")
    messages = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise HistoryError(f"{path}: message {i} needs a role of {', '.join(ROLES)}")
        content = item.get("content")
        if not isinstance(content, str):
            raise HistoryError(f"{path}: message {i} needs a text 'content'")
        messages.append({"role": item["role"], "content": content})
    return messages


def load_history(path: str | os.PathLike) -> list[dict[str, str]]:
    return parse_history(read_json(path), Path(path))


def dump_history(messages: list[dict[str, str]]) -> str:
    clean = [{"role": m["role"], "content": m["content"]} for m in messages]
    return json.dumps(clean, indent=2, ensure_ascii=False) + "\n"


def save_history(path: str | os.PathLike, messages: list[dict[str, str]]) -> None:
    """Write atomically: a crash mid-save must not destroy the previous history."""
    path = Path(path)
    if path.parent != Path():
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump_history(messages), encoding="utf-8")
    tmp.replace(path)
