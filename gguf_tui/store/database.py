"""The conversation database: one SQLite file, safe to share between running instances.

Durability comes from committing every write at once (a user message when it is
sent, an answer at each streaming checkpoint) in WAL mode. `synchronous=NORMAL`
skips the fsync per commit, so a checkpoint is cheap; a killed process still
loses nothing committed, only a power cut can take the last few commits.

Writes take the write lock up front (`BEGIN IMMEDIATE`): a transaction that
reads first and upgrades later can fail at once in WAL mode, while one that
waits for the lock just waits out `busy_timeout`. Every sqlite3 error leaves as
a `StoreError` whose message a user can act on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

from gguf_tui.store import cells, opening, schema, search, tree
from gguf_tui.store.errors import StoreError, describe, is_busy
from gguf_tui.store.records import (
    Conversation,
    Message,
    NewMessage,
    check_role,
    title_from_text,
)
from gguf_tui.store.tree import LEAF

log = logging.getLogger(__name__)
T = TypeVar("T")
REPORT_EVERY = 60.0  # seconds between two reports of the same read failure

_CONVERSATION = "id, title, created_at, updated_at, model_file, quant, message_count, settings"
_MESSAGE = tree.MESSAGE_COLUMNS


def _dump_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid an INSERT just made (sqlite3 types lastrowid as optional: None only
    before any INSERT on the cursor)."""
    rowid = cursor.lastrowid
    assert rowid is not None, "an INSERT leaves its rowid"
    return rowid


class Store:
    """All reads and writes of conversations; usable from any thread (one lock, one connection).

    A file already there is looked at first and left byte for byte as it was unless it
    is gguf-tui's (opening.py). `read_only=True` (export) opens it `mode=ro` and never
    writes. Otherwise it is opened for writing, or read-only where the file or its
    folder cannot be written (read-only media): reads work, each write says why not.

    With `on_read_error` set (the app), a read that fails (a damaged page) returns the
    rows it got before the failure, often none, and the message goes there (once a
    minute at most per message) instead of raising: the screen stays usable. Writes
    always raise. Methods that change a row that is gone (deleted by another instance,
    say) do nothing, except `add_message`, which cannot: it raises StoreError.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout: float = 5.0,
        read_only: bool = False,
        on_read_error: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.on_read_error = on_read_error
        self.read_only_reason: str | None = "it is open for reading only" if read_only else None
        self._reported: dict[str, float] = {}
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        exists = opening.check_path(self.path)
        if exists:
            opening.look(self.path, schema.SCHEMA_VERSION)
            self.read_only_reason = self.read_only_reason or opening.why_read_only(self.path)
        elif read_only:
            raise StoreError(f"no conversations yet ({self.path} does not exist)")
        else:
            self._make_folder()
        try:
            if self.read_only_reason is None:
                mode = "rw" if exists else "rwc"
                self._conn = opening.connect(self.path, timeout=timeout, mode=mode)
                self._run(self._setup)
            else:
                self._conn = self._connect_read_only()
                self._run(self._check)
        except BaseException:
            self.close()
            raise

    def _make_folder(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise StoreError(f"cannot create the folder {folder}: {reason}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(
                f"cannot create {self.path}: its folder is read-only; make it writable, or "
                "choose another --data-dir"
            )

    def _connect_read_only(self) -> sqlite3.Connection:
        """`mode=ro`; on read-only media a WAL database cannot get its -shm file, so then
        `immutable`, which needs none (nothing can be writing to it there)."""
        conn = opening.connect(self.path, timeout=self.timeout, mode="ro")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error as exc:
            conn.close()
            wal = self.path.with_name(self.path.name + "-wal")
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_CANTOPEN" or (
                wal.exists() and wal.stat().st_size
            ):
                raise StoreError(describe(exc, self.path)) from None
        return opening.connect(self.path, timeout=self.timeout, mode="ro", immutable="1")

    def _check(self, conn: sqlite3.Connection) -> None:
        identity = opening.identify(conn)
        opening.refuse_if_not_ours(identity, self.path, schema.SCHEMA_VERSION)
        if identity.empty:
            raise StoreError(f"no conversations yet ({self.path} is an empty database)")

    def _setup(self, conn: sqlite3.Connection) -> None:
        """Check whose the file is with the real connection (it sees the -wal too) before
        the first write, then WAL mode, then the schema steps the file lacks."""
        opening.refuse_if_not_ours(opening.identify(conn), self.path, schema.SCHEMA_VERSION)
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            log.warning("%s: journal mode is %s, not WAL", self.path, mode)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        identity = opening.identify(conn)
        if (
            identity.version == schema.SCHEMA_VERSION
            and identity.application_id == opening.APPLICATION_ID
        ):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Again under the write lock: another instance may have just migrated it.
            identity = opening.identify(conn)
            opening.refuse_if_not_ours(identity, self.path, schema.SCHEMA_VERSION)
            start = schema.migrate(conn)
            if identity.application_id != opening.APPLICATION_ID:
                conn.execute(f"PRAGMA application_id = {opening.APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        if start and start < schema.SCHEMA_VERSION:
            log.info("%s: schema upgraded from %d to %d", self.path, start, schema.SCHEMA_VERSION)

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            if self.read_only_reason is None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA optimize")
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- running statements ---------------------------------------------------------------

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work`, retrying while the database is busy, until `timeout` has passed.

        busy_timeout covers most waits; some (WAL recovery, a stale read snapshot)
        fail at once without waiting, and those are what the loop retries.
        """
        with self._lock:
            if self._conn is None:
                raise StoreError(f"the conversation database {self.path} is closed")
            deadline = time.monotonic() + self.timeout
            delay = 0.005
            while True:
                try:
                    return work(self._conn)
                except sqlite3.Error as exc:
                    if is_busy(exc) and time.monotonic() + delay < deadline:
                        time.sleep(delay)
                        delay = min(delay * 2, 0.1)
                        continue
                    raise StoreError(describe(exc, self.path)) from None

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one write transaction, committed before returning."""
        if self.read_only_reason is not None:
            raise StoreError(f"cannot save to {self.path}: {self.read_only_reason}")

        def transaction(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
            return result

        return self._run(transaction)

    def _query(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[tuple]:
        """Rows of one read. With `on_read_error` set, a failure mid-way keeps the rows
        read before it and is reported there instead of raised."""
        rows: list[tuple] = []

        def work(conn: sqlite3.Connection) -> list[tuple]:
            rows.clear()  # a busy retry starts over
            cursor = conn.execute(sql, params if isinstance(params, dict) else tuple(params))
            while batch := cursor.fetchmany(256):
                rows.extend(batch)
            return rows

        if self.on_read_error is None:
            return self._run(work)
        try:
            return self._run(work)
        except StoreError as exc:
            self._report(str(exc))
            return list(rows)

    def _report(self, message: str) -> None:
        now = time.monotonic()
        if now - self._reported.get(message, -math.inf) < REPORT_EVERY:
            return
        self._reported[message] = now
        log.warning("read failed: %s", message)
        if (report := self.on_read_error) is not None:
            try:
                report(message)
            except Exception:  # a report must never become the failure
                log.exception("reporting a read failure failed")

    # --- conversations ------------------------------------------------------------------------

    def create_conversation(
        self,
        title: str = "",
        *,
        model_file: str | None = None,
        quant: str | None = None,
        settings: dict | None = None,
    ) -> Conversation:
        now = time.time()
        settings_json = _dump_json(settings or {})

        def work(conn: sqlite3.Connection) -> int:
            return _inserted_id(
                conn.execute(
                    "INSERT INTO conversations (title, created_at, updated_at, model_file, quant,"
                    " settings) VALUES (?, ?, ?, ?, ?, ?)",
                    (title.strip(), now, now, model_file, quant, settings_json),
                )
            )

        conversation_id = self._write(work)
        return Conversation(
            conversation_id, title.strip(), now, now, model_file, quant, 0, dict(settings or {})
        )

    def get_conversation(self, conversation_id: int) -> Conversation | None:
        rows = self._query(
            f"SELECT {_CONVERSATION} FROM conversations WHERE id = ?", (conversation_id,)
        )
        return cells.conversation(rows[0]) if rows else None

    def list_conversations(
        self, *, offset: int = 0, limit: int | None = 200, query: str | None = None
    ) -> list[Conversation]:
        """Newest first (by last change). `query` keeps conversations holding every word typed,
        in any message or the title; text with no word in it keeps them all."""
        where, params = search.where_clause(query)
        sql = (
            f"SELECT {_CONVERSATION} FROM conversations{where}"
            " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?"
        )
        rows = self._query(sql, [*params, -1 if limit is None else limit, offset])
        return [cells.conversation(row) for row in rows]

    def count_conversations(self, query: str | None = None) -> int:
        where, params = search.where_clause(query)
        rows = self._query(f"SELECT count(*) FROM conversations{where}", params)
        return cells.count(rows[0][0]) if rows else 0

    def last_conversation(self) -> Conversation | None:
        latest = self.list_conversations(limit=1)
        return latest[0] if latest else None

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        self._write(
            lambda conn: conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (title.strip(), conversation_id)
            )
        )

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete it with all its messages (the foreign key cascades)."""
        self._write(
            lambda conn: conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        )

    def set_conversation_settings(self, conversation_id: int, settings: dict) -> None:
        """Replace the conversation's overrides (system_prompt, temperature, n_ctx …)."""
        settings_json = _dump_json(dict(settings))
        self._write(
            lambda conn: conn.execute(
                "UPDATE conversations SET settings = ? WHERE id = ?",
                (settings_json, conversation_id),
            )
        )

    # --- messages -----------------------------------------------------------------------------

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        *,
        reasoning: str = "",
        model_file: str | None = None,
        quant: str | None = None,
        stats: dict | None = None,
        finish_reason: str | None = None,
        parent_id: int | Literal["leaf"] | None = LEAF,
    ) -> Message:
        """Add and commit at once, after the message `parent_id` (by default the end of the
        branch shown; None: a first message), and show the branch it ends. The first
        user message names an untitled conversation."""
        check_role(role)
        now = time.time()
        title = title_from_text(content) if role == "user" else ""
        row = (conversation_id, role, content, reasoning, now, model_file, quant, _dump_json(stats))
        parent: int | None = None

        def work(conn: sqlite3.Connection) -> int:
            nonlocal parent
            parent = tree.parent_for(conn, conversation_id, parent_id)
            found = conn.execute(
                "UPDATE conversations SET updated_at = ?,"
                " model_file = coalesce(?, model_file), quant = coalesce(?, quant),"
                " title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                (now, model_file, quant, title, conversation_id),
            ).rowcount
            if not found:
                raise StoreError(f"conversation {conversation_id} no longer exists")
            new_id = _inserted_id(
                conn.execute(
                    f"INSERT INTO messages ({_MESSAGE})"
                    " VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*row, finish_reason, parent),
                )
            )
            tree.show(conn, conversation_id, new_id)
            return new_id

        message_id = self._write(work)
        return Message(
            message_id,
            conversation_id,
            role,
            content,
            reasoning,
            now,
            model_file,
            quant,
            stats,
            finish_reason,
            parent,
        )

    def update_message(
        self,
        message_id: int,
        content: str,
        *,
        reasoning: str | None = None,
        stats: dict | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Checkpoint a streaming answer: one indexed UPDATE, committed.

        None leaves a field as it is. Giving `finish_reason` (the last checkpoint)
        also marks the conversation as changed now.
        """
        stats_json = _dump_json(stats)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE messages SET content = ?, reasoning = coalesce(?, reasoning),"
                " stats = coalesce(?, stats), finish_reason = coalesce(?, finish_reason)"
                " WHERE id = ?",
                (content, reasoning, stats_json, finish_reason, message_id),
            )
            if finish_reason is not None:
                conn.execute(
                    "UPDATE conversations SET updated_at = ? WHERE id ="
                    " (SELECT conversation_id FROM messages WHERE id = ?)",
                    (time.time(), message_id),
                )

        self._write(work)

    def message(self, message_id: int) -> Message | None:
        rows = self._query(f"SELECT {_MESSAGE} FROM messages WHERE id = ?", (message_id,))
        return cells.message(rows[0]) if rows else None

    def messages(
        self, conversation_id: int, *, before_id: int | None = None, limit: int | None = None
    ) -> list[Message]:
        """The branch shown, oldest first. With `limit`, the last `limit` messages of it
        before `before_id` (paging up)."""
        start = (
            tree.LEAF_OF
            if before_id is None
            else "(SELECT parent_id FROM messages WHERE id = :before AND conversation_id = :cid)"
        )
        sql = tree.BRANCH.replace(":start", start)
        params = {"cid": conversation_id, "before": before_id, "limit": limit or -1}
        return [cells.message(row) for row in self._query(sql, params)]

    def branch_to(self, message_id: int) -> list[Message]:
        """The first message down to `message_id`, whatever branch is shown."""
        owner = self._query("SELECT conversation_id FROM messages WHERE id = ?", (message_id,))
        if not owner:
            return []
        params = {"cid": owner[0][0], "start": message_id, "limit": -1}
        return [cells.message(row) for row in self._query(tree.BRANCH, params)]

    def all_messages(self, conversation_id: int) -> list[Message]:
        """Every message of every branch, in the order written (a parent before its
        children): what a JSON export carries."""
        rows = self._query(
            f"SELECT {_MESSAGE} FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [cells.message(row) for row in rows]

    # --- branches -------------------------------------------------------------------------------

    def siblings(self, message_id: int) -> list[int]:
        """The ids of the versions of this message (itself included), oldest first: the
        messages that follow the same one."""
        rows = self._query(
            "SELECT s.id FROM messages AS m JOIN messages AS s"
            " ON s.conversation_id = m.conversation_id AND s.parent_id IS m.parent_id"
            " WHERE m.id = ? ORDER BY s.id",
            (message_id,),
        )
        return [cells.row_id(r[0]) for r in rows]

    def versions(self, conversation_id: int) -> dict[int, tuple[int, int]]:
        """For each message that has other versions: (its place among them from 1, how
        many). One read for a whole conversation (the view asks for every message)."""
        rows = self._query(
            "SELECT id, parent_id FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return tree.versions(rows)

    def show_branch(self, message_id: int) -> int | None:
        """Show the branch through `message_id`, down to its newest message; that
        message's id (None when `message_id` is gone)."""

        def work(conn: sqlite3.Connection) -> int | None:
            owner = conn.execute(
                "SELECT conversation_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if owner is None:
                return None
            leaf = tree.newest_below(conn, message_id)
            tree.show_version(conn, owner[0], leaf)
            return leaf

        return self._write(work)

    def branch_size(self, message_id: int) -> int:
        """How many messages `delete_branch(message_id)` deletes: it and all below it."""
        rows = self._query(tree.BELOW_COUNT, (message_id,))
        return cells.count(rows[0][0]) if rows else 0

    def fork(self, message_id: int, title: str = "") -> Conversation:
        """A new conversation holding the branch from the first message down to
        `message_id` (copies: the two go their own ways), with the same settings."""
        branch = self.branch_to(message_id)
        if not branch:
            raise StoreError(f"message {message_id} no longer exists")
        source = self.get_conversation(branch[0].conversation_id)
        return self.import_conversation(
            title or f"{source.title if source else ''} (fork)".strip(),
            [
                NewMessage(
                    m.role,
                    m.content,
                    m.reasoning,
                    m.created_at,
                    m.model_file,
                    m.quant,
                    m.stats,
                    m.finish_reason,
                )
                for m in branch
            ],
            settings=source.settings if source else None,
        )

    def delete_branch(self, message_id: int) -> None:
        """Delete this version of a message and everything that follows it; the branch
        shown becomes its newest remaining sibling's, else the one it followed."""

        def work(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT conversation_id, parent_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                return
            cid, parent = row
            conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            tree.show_after_delete(conn, cid, parent)
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (time.time(), cid))

        self._write(work)

    def message_count(self, conversation_id: int) -> int:
        rows = self._query(
            "SELECT message_count FROM conversations WHERE id = ?", (conversation_id,)
        )
        return cells.count(rows[0][0]) if rows else 0

    def import_conversation(
        self,
        title: str,
        messages: Iterable[NewMessage],
        *,
        settings: dict | None = None,
        created_at: float | None = None,
        shown: int | None = None,
    ) -> Conversation:
        """Write a whole conversation in one transaction: an import is all there or not at all.

        Message times are kept; the conversation counts as changed now, so it is
        at the top of the list. An empty title comes from the first user message.
        Each message follows the one its `parent` names (a tree, as JSON exports
        carry it); `shown` is the index of the last message of the branch to show
        (default: the last message).
        """
        items = list(messages)
        for item in items:
            check_role(item.role)
        tree.check_import(items, shown)
        now = time.time()
        if not title.strip():
            said = (title_from_text(m.content) for m in items if m.role == "user")
            title = next((t for t in said if t), "")
        last_model = next((m for m in reversed(items) if m.model_file), None)
        model_file = last_model.model_file if last_model else None
        quant = last_model.quant if last_model else None
        started = created_at or next((m.created_at for m in items if m.created_at), now)
        rows = [
            (
                m.role,
                m.content,
                m.reasoning,
                m.created_at or now,
                m.model_file,
                m.quant,
                _dump_json(m.stats),
                m.finish_reason,
            )
            for m in items
        ]

        def work(conn: sqlite3.Connection) -> int:
            conversation_id = _inserted_id(
                conn.execute(
                    "INSERT INTO conversations (title, created_at, updated_at, model_file, quant,"
                    " settings) VALUES (?, ?, ?, ?, ?, ?)",
                    (title.strip(), started, now, model_file, quant, _dump_json(settings or {})),
                )
            )
            ids: list[int] = []
            for n, row in enumerate(rows):
                parent = tree.imported_parent(items, n, ids)
                ids.append(
                    _inserted_id(
                        conn.execute(
                            f"INSERT INTO messages ({_MESSAGE}) VALUES (NULL, ?,"
                            " ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (conversation_id, *row, parent),
                        )
                    )
                )
            if ids:
                leaf = ids[-1] if shown is None else ids[shown]
                tree.show_version(conn, conversation_id, leaf)
            return conversation_id

        conversation_id = self._write(work)
        written = self.get_conversation(conversation_id)  # its model: the branch shown's
        return written or Conversation(
            conversation_id, title.strip(), started, now, model_file, quant, len(rows), {}
        )
