"""The conversation tree in SQL: which message a new one follows, the branch shown, where
a chosen version leads, and where the view goes after a version is deleted.

Each message points at the one it follows (`parent_id`; NULL for a first message), and
the conversation remembers the last message of the branch shown (`leaf_id`). Branches
are read by walking parent links from one end, so the cost is the branch's own length
and never the whole conversation's, whatever the number of versions beside it. These
functions take a connection inside the caller's transaction (store/database.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Final

from gguf_tui.store.errors import StoreError
from gguf_tui.store.records import PREVIOUS, NewMessage

MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, reasoning, created_at, model_file, quant, stats,"
    " finish_reason, parent_id"
)
LEAF: Final = "leaf"  # add_message's default parent: the end of the branch shown

# The message a new one follows when none is named: the end of the branch shown (the
# conversation's leaf; the newest message where a leaf was never set or is gone).
LEAF_OF = (
    "coalesce((SELECT c.leaf_id FROM conversations AS c WHERE c.id = :cid"
    " AND EXISTS (SELECT 1 FROM messages AS l WHERE l.id = c.leaf_id)),"
    " (SELECT max(n.id) FROM messages AS n WHERE n.conversation_id = :cid))"
)
# From :start up to the first message, at most :limit of them (-1: all): one branch.
# The walk carries whole rows, so it reads only the branch's own rows by their ids (a
# second pass over `messages` may be planned as a scan of the whole table, which also
# reads the other conversations' pages, damaged ones included).
BRANCH = f"""
WITH RECURSIVE up({MESSAGE_COLUMNS}) AS (
    SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = :start AND conversation_id = :cid
    UNION ALL
    SELECT {", ".join("m." + c.strip() for c in MESSAGE_COLUMNS.split(","))}
    FROM messages AS m JOIN up ON m.id = up.parent_id
    LIMIT :limit
)
SELECT {MESSAGE_COLUMNS} FROM up ORDER BY id
"""
# From :start down to its newest descendant, through each newest child: where a
# branch chosen at :start leads.
_NEWEST_BELOW = """
WITH RECURSIVE down(id) AS (
    SELECT :start
    UNION ALL
    SELECT (SELECT max(c.id) FROM messages AS c WHERE c.parent_id = down.id)
    FROM down WHERE down.id IS NOT NULL
)
SELECT max(id) FROM down
"""
BELOW_COUNT = (
    "WITH RECURSIVE below(id) AS (SELECT id FROM messages WHERE id = ?"
    " UNION ALL SELECT m.id FROM messages AS m JOIN below ON m.parent_id = below.id)"
    " SELECT count(*) FROM below"
)


def parent_for(
    conn: sqlite3.Connection, conversation_id: int, parent_id: int | str | None
) -> int | None:
    """The id a new message of `conversation_id` follows: the end of the branch shown for
    LEAF, None for a first message, else `parent_id` itself, once it is known to be a
    message of that conversation."""
    if parent_id == LEAF:
        return conn.execute(f"SELECT {LEAF_OF}", {"cid": conversation_id}).fetchone()[0]
    if parent_id is None:
        return None
    owner = conn.execute("SELECT conversation_id FROM messages WHERE id = ?", (parent_id,))
    row = owner.fetchone()
    if row is None or row[0] != conversation_id:
        raise StoreError(f"message {parent_id} is not in conversation {conversation_id}")
    return int(parent_id)


def newest_below(conn: sqlite3.Connection, start: int) -> int:
    return int(conn.execute(_NEWEST_BELOW, {"start": start}).fetchone()[0])


def show(conn: sqlite3.Connection, conversation_id: int, leaf: int | None) -> None:
    conn.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (leaf, conversation_id))


def show_version(conn: sqlite3.Connection, conversation_id: int, leaf: int | None) -> None:
    """Show the branch ending at `leaf`, and let the conversation's model be the one that
    wrote that branch's last answer (the sidebar's quant, ctrl+l's model)."""
    show(conn, conversation_id, leaf)
    if leaf is None:
        return
    wrote = conn.execute(
        f"SELECT model_file, quant FROM ({BRANCH}) WHERE model_file IS NOT NULL"
        " ORDER BY id DESC LIMIT 1",
        {"start": leaf, "cid": conversation_id, "limit": -1},
    ).fetchone()
    if wrote is not None:
        conn.execute(
            "UPDATE conversations SET model_file = ?, quant = ? WHERE id = ?",
            (*wrote, conversation_id),
        )


def show_after_delete(conn: sqlite3.Connection, conversation_id: int, parent: int | None) -> None:
    """After a version (that followed `parent`) was deleted: the branch shown stays when
    it was another one; else it becomes the newest remaining sibling's, else the
    branch down to `parent`."""
    kept = conn.execute(
        "SELECT 1 FROM conversations AS c JOIN messages AS m ON m.id = c.leaf_id WHERE c.id = ?",
        (conversation_id,),
    ).fetchone()
    if kept:
        return
    sibling = conn.execute(
        "SELECT max(id) FROM messages WHERE conversation_id = ? AND parent_id IS ?",
        (conversation_id, parent),
    ).fetchone()[0]
    start = sibling if sibling is not None else parent
    show_version(conn, conversation_id, None if start is None else newest_below(conn, start))


def versions(rows: Iterable[tuple[int, int | None]]) -> dict[int, tuple[int, int]]:
    """From (id, parent) rows in id order: for each message with other versions, (its
    place among them from 1, how many)."""
    children: dict[int | None, list[int]] = {}
    for mid, parent in rows:
        children.setdefault(parent, []).append(mid)
    return {
        mid: (n, len(ids))
        for ids in children.values()
        if len(ids) > 1
        for n, mid in enumerate(ids, 1)
    }


def check_import(items: Sequence[NewMessage], shown: int | None) -> None:
    """An imported tree names only messages before each one, and a branch end it has."""
    for n, item in enumerate(items):
        if item.parent is not None and item.parent != PREVIOUS and not 0 <= item.parent < n:
            raise ValueError(f"message {n} follows message {item.parent}, not one before it")
    if shown is not None and not 0 <= shown < len(items):
        raise ValueError(f"the branch shown ends at message {shown}, which is not there")


def imported_parent(items: Sequence[NewMessage], n: int, ids: Sequence[int]) -> int | None:
    """The database id that imported message `n` follows (`ids`: those written so far)."""
    parent = items[n].parent
    if parent == PREVIOUS:
        parent = n - 1 if n else None
    return None if parent is None else ids[parent]
