"""The database schema as a list of forward migrations, numbered by `PRAGMA user_version`.

A database records how many steps it has taken; opening it runs the rest, inside
one write transaction, so two instances opening a new file at once cannot both
migrate it. Steps are only ever appended: a released step never changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

# 1: conversations and messages. message_count is kept by triggers, so it stays right
# however rows go (cascades, delete_messages_from, another instance).
_V1 = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    model_file TEXT,
    quant TEXT,
    message_count INTEGER NOT NULL DEFAULT 0,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX conversations_by_updated ON conversations(updated_at);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    reasoning TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    model_file TEXT,
    quant TEXT,
    stats TEXT,
    finish_reason TEXT
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
    UPDATE conversations SET message_count = message_count + 1 WHERE id = new.conversation_id;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
    UPDATE conversations SET message_count = message_count - 1 WHERE id = old.conversation_id;
END;
"""

# 2: full-text search over message contents and titles. External-content tables hold
# only the index; triggers keep it in step, and `rebuild` indexes what v1 already had.
# The content trigger fires on content changes only, so a stats update costs no reindex.
_V2 = """
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
END;
CREATE VIRTUAL TABLE conversations_fts USING fts5(
    title, content='conversations', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);
END;
CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO conversations_fts(conversations_fts, rowid, title)
        VALUES ('delete', old.id, old.title);
END;
CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO conversations_fts(conversations_fts, rowid, title)
        VALUES ('delete', old.id, old.title);
    INSERT INTO conversations_fts(rowid, title) VALUES (new.id, new.title);
END;
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild');
"""

# 3: a conversation is a tree. Each message points at the one it answers or follows
# (`parent_id`; NULL for a first message), so regenerating, editing or comparing adds
# a sibling instead of deleting; deleting a message deletes what grew from it. The
# conversation remembers the last message of the branch shown (`leaf_id`). Existing
# conversations become one branch each: every message the child of the one before it.
_V3 = """
ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE;
ALTER TABLE conversations ADD COLUMN leaf_id INTEGER;
UPDATE messages SET parent_id = (
    SELECT max(p.id) FROM messages AS p
    WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id
);
UPDATE conversations SET leaf_id = (
    SELECT max(m.id) FROM messages AS m WHERE m.conversation_id = conversations.id
);
CREATE INDEX messages_by_parent ON messages(parent_id, id);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


class NewerSchemaError(Exception):
    """The file was written by a newer gguf-tui; changing it could lose that version's data."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def statements(script: str) -> Iterator[str]:
    """Split a script into statements, keeping trigger bodies whole.

    `executescript` would commit the open transaction first, so each statement
    runs on its own inside ours instead.
    """
    buffer: list[str] = []
    for line in script.splitlines(keepends=True):
        buffer.append(line)
        text = "".join(buffer)
        if sqlite3.complete_statement(text):
            yield text.strip()
            buffer.clear()
    if "".join(buffer).strip():
        raise ValueError(f"incomplete SQL statement: {''.join(buffer).strip()[:60]}")


def user_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Run the steps this database lacks; call inside a write transaction. Returns the start."""
    start = user_version(conn)
    if start > len(MIGRATIONS):
        raise NewerSchemaError(start)
    for step in range(start, target):
        for statement in statements(MIGRATIONS[step]):
            conn.execute(statement)
    if target > start:
        conn.execute(f"PRAGMA user_version = {int(target)}")
    return start
