"""Deciding whose an SQLite file is before touching it, and opening it no wider than needed.

Opening a file read-write can change it before a single row is read: a journal
mode switch, a hot journal rolled back, a WAL checkpoint when the connection
closes. So a file already there is first looked at through an `immutable`
connection, which takes no lock and creates no -wal or -shm file, and only a file
that is gguf-tui's (or empty) is then opened for real. Whatever is not ours is
refused with a message and left byte for byte as it was.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from gguf_tui.store.errors import StoreError, describe

# Written into the header's application_id field of every database this version
# writes to ("gTUI"); a file with another id belongs to another program.
APPLICATION_ID = 0x67545549

# The columns gguf-tui's tables have had since schema step 1; a file whose tables
# lack them is another program's, whatever its user_version says.
OUR_COLUMNS = {
    "conversations": {
        "id",
        "title",
        "created_at",
        "updated_at",
        "model_file",
        "quant",
        "message_count",
        "settings",
    },
    "messages": {
        "id",
        "conversation_id",
        "role",
        "content",
        "reasoning",
        "created_at",
        "model_file",
        "quant",
        "stats",
        "finish_reason",
    },
}

_KINDS = {
    stat.S_IFIFO: "named pipe",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFSOCK: "socket",
}


@dataclass(frozen=True, slots=True)
class Identity:
    """What a database says about itself, read without changing it."""

    application_id: int
    version: int  # PRAGMA user_version: schema steps taken
    tables: dict[str, set[str]]  # table name -> its columns (ours only; others: empty)

    @property
    def empty(self) -> bool:
        return not self.tables and self.version == 0 and self.application_id == 0

    @property
    def shaped_like_ours(self) -> bool:
        return all(cols <= self.tables.get(name, set()) for name, cols in OUR_COLUMNS.items())


def check_path(path: Path) -> bool:
    """True when a file is there, False when none is; StoreError for anything that is
    not a regular file (a folder, a pipe that would block a read, a device)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise StoreError(
                f"{path} is a link to {path.readlink()}, which does not exist: "
                "remove the link, or choose another --data-dir"
            ) from None
        return False
    except NotADirectoryError:
        return False  # creating its folder says what stands in the way
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(
            f"{path} is a folder, not a database file: move it away, or choose another --data-dir"
        )
    if not stat.S_ISREG(info.st_mode):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "special file")
        raise StoreError(
            f"{path} is a {kind}, not a database file: move it away, or choose another --data-dir"
        )
    return True


def uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path.absolute()))}" + (f"?{query}" if query else "")


def connect(path: Path, *, timeout: float, **params: str) -> sqlite3.Connection:
    """A connection that decodes text leniently: a cell of bytes that are not UTF-8
    (a hand edit, another tool) reads as text with U+FFFD in it, never as an error."""
    try:
        conn = sqlite3.connect(
            uri(path, **params),
            uri=True,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, path)) from None
    conn.text_factory = lambda data: data.decode("utf-8", "replace")
    return conn


def identify(conn: sqlite3.Connection) -> Identity:
    """Header fields and table columns; reads only (raises sqlite3.Error)."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    tables: dict[str, set[str]] = {name: set() for name in names}
    for name in OUR_COLUMNS.keys() & tables.keys():  # others' columns: not read (an FTS
        rows = conn.execute("SELECT name FROM pragma_table_info(?)", (name,)).fetchall()
        tables[name] = {r[0] for r in rows}  # table would open its own pages for them)
    return Identity(app_id, version, tables)


def refuse_if_not_ours(identity: Identity, path: Path, known_version: int) -> None:
    """StoreError unless the file is empty, gguf-tui's, or written by a newer gguf-tui."""
    if identity.empty:
        return
    other = identity.application_id not in (0, APPLICATION_ID)
    if other or not identity.shaped_like_ours:
        what = f"application id {identity.application_id:#x}" if other else "no conversations table"
        raise StoreError(
            f"{path} is an SQLite database of another program ({what}); it is left untouched: "
            "move it away, or choose another --data-dir"
        )
    if identity.version > known_version:
        raise StoreError(
            f"{path} was written by a newer gguf-tui (schema {identity.version}, this one "
            f"knows {known_version}): update gguf-tui to open it"
        )
    if identity.version == 0:
        raise StoreError(
            f"{path} holds conversation tables but no schema version: it is not gguf-tui's "
            "as written, so it is left untouched; move it away, or choose another --data-dir"
        )


def look(path: Path, known_version: int) -> None:
    """Refuse a file that is not ours, without changing it or creating anything beside it.

    `immutable` reads the main file only, so it may miss what a -wal file holds; that
    only ever hides a newer state of our own tables (they only grow), and the real
    connection checks again. A file it cannot read is left to that connection, whose
    error says what is wrong.
    """
    try:
        conn = sqlite3.connect(uri(path, mode="ro", immutable="1"), uri=True)
    except sqlite3.Error:
        return
    try:
        identity = identify(conn)
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
            raise StoreError(describe(exc, path)) from None
        return
    finally:
        conn.close()
    refuse_if_not_ours(identity, path, known_version)


def why_read_only(path: Path) -> str | None:
    """Why this file cannot be written here (None: it can), in words for a message."""
    if not os.access(path, os.W_OK):
        return "the file is read-only"
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is read-only (SQLite writes its -wal and -shm files there)"
    return None
