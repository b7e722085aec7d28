"""The `chat.py` history format: a JSON list of `{"role", "content"}` objects.

Kept byte-compatible with the classic script (UTF-8, indented, non-ASCII
written as is) so old history files keep working in both directions.

Reading is bounded (store/files.py): a regular file of at most 64 MiB, JSON nested at
most 64 deep, numbers Python can convert, text that is valid Unicode. Anything else is a
HistoryError with one line that names the file, never a traceback or a hang.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from gguf_tui.store.files import (
    MAX_HISTORY_BYTES,
    FileError,
    read_bytes,
    write_atomic,
)

ROLES = ("system", "user", "assistant")
MAX_DEPTH = 64  # our formats nest 4 deep; a deeper file is not one of ours
_SURROGATE = re.compile("[\ud800-\udfff]")


class HistoryError(ValueError):
    """A history file that cannot be used; the message names the file and the fault."""


def _too_deep(path: Path) -> str:
    return f"{path} nests deeper than {MAX_DEPTH} levels: not a history file"


def _no_constant(name: str) -> Any:
    raise HistoryError(f"{name} is not a JSON number")


def _check_tree(data: Any, path: Path) -> None:
    """Depth and text of parsed JSON, without recursion (a hostile file may nest deep)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if (m := _SURROGATE.search(item)) is not None:
                raise HistoryError(
                    f"{path} holds text that is not valid Unicode "
                    f"(a lone surrogate \\u{ord(m.group()):04x})"
                )
            continue
        if not isinstance(item, list | dict):
            continue
        if depth > MAX_DEPTH:
            raise HistoryError(_too_deep(path))
        if isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        else:
            stack.extend((v, depth + 1) for v in item)


def read_json(path: str | os.PathLike) -> Any:
    """The parsed contents of a JSON file, or a HistoryError that says what is wrong with it."""
    path = Path(path)
    try:
        text = read_bytes(path, MAX_HISTORY_BYTES).decode("utf-8")
        data = json.loads(text, parse_constant=_no_constant)
    except FileNotFoundError:
        raise HistoryError(f"{path} does not exist") from None
    except FileError as exc:
        raise HistoryError(str(exc)) from None
    except UnicodeDecodeError:
        raise HistoryError(f"{path} is not UTF-8 text") from None
    except HistoryError as exc:
        raise HistoryError(f"{path} is not valid JSON ({exc})") from None
    except json.JSONDecodeError as exc:
        raise HistoryError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise HistoryError(
            f"{path} nests deeper than {MAX_DEPTH} levels: not a history file"
        ) from None
    except ValueError:  # an integer longer than Python converts (4300 digits)
        raise HistoryError(f"{path} holds a number too long to read") from None
    except OSError as exc:
        raise HistoryError(f"cannot read {path}: {exc.strerror or exc}") from None
    _check_tree(data, path)
    return data


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
    """Write atomically: a crash mid-save must not destroy the previous history. A symlink is
    written through (it stays a link); a device, FIFO or folder is refused (FileError).
    A lone surrogate (a server's broken JSON escape) cannot be UTF-8: it is saved as U+FFFD."""
    path = Path(path)
    if path.parent != Path() and not os.path.lexists(path):
        path.parent.mkdir(parents=True, exist_ok=True)
    data = _SURROGATE.sub("\ufffd", dump_history(messages)).encode("utf-8")
    write_atomic(path, data)
