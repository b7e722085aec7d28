"""Turning SQLite's failures into sentences a user can act on.

The app shows these in a notification and the CLI prints them on one line, so
each names the file and says what to do, never just the SQLite error text.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

NEARLY_FULL = 1024 * 1024  # bytes free under which an I/O error is a full disk


class StoreError(Exception):
    """The database cannot be used; the message is meant for the user."""


def describe(exc: sqlite3.Error, path: Path) -> str:
    """A sentence a user can act on, from SQLite's error code (its text as a fallback)."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return f"the conversation database {path} is busy: another gguf-tui is writing to it"
    if code.startswith("SQLITE_FULL") or "disk is full" in text:
        return f"the disk is full: cannot save to {path}"
    if code.startswith("SQLITE_NOTADB") or "not a database" in text:
        return f"{path} is not a conversation database (or it is damaged)"
    if code.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return f"the conversation database {path} is damaged; restore it from a backup"
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        return f"cannot write to {path}: it or its folder is read-only"
    if code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return f"cannot open {path}: check that its folder exists and is writable"
    if code.startswith("SQLITE_IOERR") or "i/o error" in text:
        free = free_space(path)
        if free is not None and free < NEARLY_FULL:
            # Not SQLITE_FULL: creating the -shm file on a full disk fails as an I/O error.
            return f"the disk is full ({free // 1024} KiB free): cannot open or save to {path}"
        return f"cannot read or write {path} (disk I/O error, {code or 'SQLITE_IOERR'})"
    return f"conversation database {path}: {exc}"


def free_space(path: Path) -> int | None:
    """Bytes free on the disk holding `path` (None: that cannot be told)."""
    for place in (path, path.parent):
        try:
            return shutil.disk_usage(place).free
        except OSError:
            continue
    return None


def is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorname", "") or ""
    return code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc).lower()
