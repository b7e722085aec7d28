"""Conversations out of the database (Markdown, full JSON, chat.py history) and back in.

Markdown is for reading; the JSON export keeps everything the database knows,
so importing it gives the same conversation back: every branch (each message
numbered in the file, with the number of the one it follows) and which one is
shown. Markdown and the chat.py history hold the branch shown. Both import paths
accept the chat.py history list too, the format people already have files in.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gguf_tui.store.database import Store
from gguf_tui.store.history import HistoryError, dump_history, parse_history, read_json
from gguf_tui.store.records import (
    PREVIOUS,
    ROLES,
    Conversation,
    Message,
    NewMessage,
    title_from_text,
)

EXPORT_FORMAT = "gguf-tui-conversation"
EXPORT_VERSION = 2  # 2: every branch (message "id" and "parent", "shown"); 1 had one
FORMATS = ("md", "json", "history")
UNTITLED = "Untitled conversation"
COMPLETE = "stop"  # how an imported answer ended when its file does not say

_ENDINGS = {  # how an answer ended, said for a reader; a normal stop says nothing
    "length": "cut at the token limit",
    "context": "context window full",
    "stopped": "stopped",
}


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def _local_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def answer_footer(message: Message) -> str:
    """model · quant · tokens · speed · first token · ending, for a reader of the export."""
    parts = []
    if message.model_file:
        parts.append(Path(message.model_file).name)
    if message.quant:
        parts.append(message.quant)
    stats = message.stats or {}
    if stats.get("generated_tokens"):
        parts.append(f"{stats['generated_tokens']} tokens")
    if stats.get("generation_tokens_per_second"):
        parts.append(f"{stats['generation_tokens_per_second']:.1f} tok/s")
    if stats.get("time_to_first_token"):
        parts.append(f"first token {stats['time_to_first_token'] * 1000:.0f} ms")
    if message.finish_reason is None:
        parts.append("unfinished")
    elif message.finish_reason in _ENDINGS:
        parts.append(_ENDINGS[message.finish_reason])
    return " · ".join(parts)


def conversation_to_markdown(conv: Conversation, messages: list[Message]) -> str:
    lines = [f"# {conv.title or UNTITLED}", ""]
    about = [f"Started {_local_time(conv.created_at)}", f"{len(messages)} messages"]
    lines += ["*" + " · ".join(about) + "*", ""]
    for message in messages:
        lines += [f"## {message.role.capitalize()}", ""]
        if message.reasoning.strip():
            lines += ["<details>", "<summary>Reasoning</summary>", ""]
            lines += [message.reasoning.strip(), "", "</details>", ""]
        if message.content.strip():
            lines += [message.content.strip(), ""]
        if message.role == "assistant" and (footer := answer_footer(message)):
            lines += [f"*{footer}*", ""]
    return "\n".join(lines)


def conversation_to_json(
    conv: Conversation, messages: list[Message], shown: int | None = None
) -> dict:
    """Everything the database holds about one conversation, times in ISO 8601 (UTC).

    `messages` are all of its messages, parents before children (the database order);
    each is numbered from 1 in the file, with the number of the message it follows, so
    an import rebuilds the same tree whatever ids its database gives. `shown`: the id
    of the last message of the branch shown (default: the last message)."""
    number = {m.id: n for n, m in enumerate(messages, 1)}
    last = number.get(shown if shown is not None else (messages[-1].id if messages else -1))
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "id": conv.id,
        "title": conv.title,
        "created": iso_time(conv.created_at),
        "updated": iso_time(conv.updated_at),
        "model_file": conv.model_file,
        "quant": conv.quant,
        "settings": conv.settings,
        "shown": last,
        "messages": [
            {
                "id": number[m.id],
                "parent": number.get(m.parent_id) if m.parent_id is not None else None,
                "role": m.role,
                "content": m.content,
                "reasoning": m.reasoning,
                "created": iso_time(m.created_at),
                "model_file": m.model_file,
                "quant": m.quant,
                "stats": m.stats,
                "finish_reason": m.finish_reason,
            }
            for m in messages
        ],
    }


def exported(store: Store, conv: Conversation) -> dict:
    """The JSON export of one conversation: every branch, and which one is shown."""
    shown = store.messages(conv.id, limit=1)
    return conversation_to_json(conv, store.all_messages(conv.id), shown[0].id if shown else None)


def export_text(store: Store, conv: Conversation, fmt: str) -> str:
    """One conversation as file text: "md", "json" (every branch) or "history" (the
    chat.py list); Markdown and history hold the branch shown."""
    messages = store.messages(conv.id)
    if fmt == "md":
        return conversation_to_markdown(conv, messages)
    if fmt == "json":
        return json.dumps(exported(store, conv), indent=2, ensure_ascii=False) + "\n"
    if fmt == "history":
        return dump_history([m.as_chat() for m in messages])
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")


def write_export(path: str | Path, text: str) -> Path:
    """Write an export file as history files are written (store/files.py): through a symlink,
    never over a device, a FIFO or a folder (FileError), atomically; a lone surrogate (a
    server's broken escape) becomes U+FFFD, since UTF-8 cannot hold it. Returns the target."""
    from gguf_tui.store.files import write_atomic

    path = Path(path)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    data = re.sub("[\ud800-\udfff]", "\ufffd", text).encode("utf-8")
    return write_atomic(path, data)


# --- import ---------------------------------------------------------------------------------


def _time(value: Any, where: str) -> float | None:
    """A time of the file as a timestamp; one a date cannot show (1e300, a year past 9999)
    is refused here, or every later export and view of the conversation would fail on it."""
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            stamp = float(value)
            datetime.fromtimestamp(stamp, UTC)  # in range, finite
            return stamp
        return datetime.fromisoformat(value).timestamp()
    except (TypeError, ValueError, OverflowError, OSError):
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:40] + "…"
        raise HistoryError(f"{where}: 'created' should be an ISO 8601 time, not {shown}") from None


def _text(item: dict, key: str, where: str, default: str | None = None) -> str | None:
    value = item.get(key, default)
    if value is not None and not isinstance(value, str):
        raise HistoryError(f"{where}: '{key}' should be text")
    return value


def _finish_reason(item: dict, where: str) -> str | None:
    """How an imported answer ended. An answer is complete unless the file says otherwise:
    no finish_reason at all (a file from another tool) is a normal stop. Only our own
    export writes an explicit null, for an answer that was cut off while being written."""
    if item.get("role") != "assistant":
        return None
    if "finish_reason" not in item:
        return COMPLETE
    return _text(item, "finish_reason", where)


def _number(item: dict, key: str, at: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise HistoryError(f"{at}: '{key}' should be a message number")
    return value


def _exported_messages(data: dict, where: str) -> tuple[list[NewMessage], int | None]:
    """The messages, each following the one its "parent" names (a file without numbers,
    version 1 or another tool's: each follows the one before it), and the index of the
    last message of the branch to show."""
    items = data.get("messages")
    if not isinstance(items, list):
        raise HistoryError(f"{where}: 'messages' should be a list")
    messages = []
    index: dict[int, int] = {}  # a message's number in the file -> its place in the list
    for i, item in enumerate(items, 1):
        at = f"{where}: message {i}"
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise HistoryError(f"{at} needs a role of {', '.join(ROLES)}")
        parent: int | None = PREVIOUS
        if "id" in item:
            number = _number(item, "id", at)
            if number is None or number in index:
                raise HistoryError(f"{at}: 'id' should be a number no other message has")
            index[number] = i - 1
            parent_number = _number(item, "parent", at)
            if parent_number is not None and parent_number not in index:
                raise HistoryError(
                    f"{at} follows message {parent_number}, which does not come before it"
                )
            parent = None if parent_number is None else index[parent_number]
        content = _text(item, "content", at)
        if content is None:
            raise HistoryError(f"{at} needs a text 'content'")
        stats = item.get("stats")
        messages.append(
            NewMessage(
                role=item["role"],
                content=content,
                reasoning=_text(item, "reasoning", at, "") or "",
                created_at=_time(item.get("created"), at),
                model_file=_text(item, "model_file", at),
                quant=_text(item, "quant", at),
                stats=stats if isinstance(stats, dict) else None,
                finish_reason=_finish_reason(item, at),
                parent=parent,
            )
        )
    shown = _number(data, "shown", where)
    if shown is not None and shown not in index:
        raise HistoryError(f"{where}: 'shown' names message {shown}, which is not there")
    return messages, None if shown is None else index[shown]


# title, messages, settings, time, the index of the last message of the branch shown
Parsed = tuple[str, list[NewMessage], dict | None, float | None, int | None]


def _parse(data: Any, where: str) -> Parsed:
    """Check one conversation completely before anything is written."""
    if isinstance(data, dict):  # our own JSON export
        messages, shown = _exported_messages(data, where)
        settings = data.get("settings")
        return (
            _text(data, "title", where, "") or "",
            messages,
            settings if isinstance(settings, dict) else None,
            _time(data.get("created"), where),
            shown,
        )
    history = parse_history(data, where)  # the chat.py list
    if not history:
        raise HistoryError(f"{where} holds no messages")
    messages = [
        NewMessage(m["role"], m["content"], finish_reason=_finish_reason(m, where)) for m in history
    ]
    return "", messages, None, None, None


def _write(store: Store, parsed: Parsed, path: Path, title: str | None) -> Conversation:
    own_title, messages, settings, created, shown = parsed
    chosen = (title if title is not None else own_title).strip()
    if not chosen:  # named after the first thing the user said, else after the file
        said = (title_from_text(m.content) for m in messages if m.role == "user")
        chosen = next((t for t in said if t), "") or path.stem
    return store.import_conversation(
        chosen, messages, settings=settings, created_at=created, shown=shown
    )


def _is_export_list(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and "messages" in item for item in data)
    )


def import_history_file(store: Store, path: Path, title: str | None = None) -> Conversation:
    """Import one conversation: a chat.py history list, or our JSON export of one conversation.

    A broken file raises HistoryError naming the file and the fault; nothing is
    written unless the whole file is good.
    """
    path = Path(path).expanduser()
    data = read_json(path)
    if _is_export_list(data):
        if len(data) != 1:
            raise HistoryError(f"{path} holds {len(data)} conversations, not one")
        data = data[0]
    return _write(store, _parse(data, str(path)), path, title)


def import_conversations(store: Store, path: Path) -> list[Conversation]:
    """Import every conversation of a file, `gguf-tui export --all --format json` included.

    All are checked before any is written, so a bad entry imports nothing.
    """
    path = Path(path).expanduser()
    data = read_json(path)
    if not _is_export_list(data):
        return [import_history_file(store, path)]
    parsed = [_parse(item, f"{path}: conversation {i}") for i, item in enumerate(data, 1)]
    return [_write(store, one, path, None) for one in parsed]
