"""Turning what a user types into the search box into safe FTS5 queries.

FTS5 has its own query language (`AND`, `NEAR`, `"`, `*`, `-`, column filters),
and half-typed text is full of it. So nothing typed is ever syntax: each
whitespace-separated word becomes a quoted FTS string (a phrase, so `gguf-tui`
still means the two words together), and only the last one, while still being
typed, is a prefix.
"""

from __future__ import annotations

MAX_WORDS = 32  # each word is a subquery; SQLite caps how deep an expression may nest


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def search_terms(query: str) -> list[str]:
    """One FTS5 expression per word of `query`; every one must match.

    Words with no letter or digit are left out: the tokenizer would find nothing
    in them, and an empty phrase matches no row, which would empty the results.
    Repeated words count once, and only the first MAX_WORDS count at all.
    """
    words = [w.lower() for w in query.split() if any(ch.isalnum() for ch in w)]
    typing = words[-1] if words and query[-1:].strip() else None  # "pyth" finds "python"
    unique = list(dict.fromkeys(words))[:MAX_WORDS]
    return [_quote(w) + (" *" if w == typing else "") for w in unique]


# Conversations where the term is in a message or in the title. A list of these,
# one per term, joined with AND, finds conversations holding every word anywhere.
TERM_FILTER = (
    "id IN (SELECT m.conversation_id FROM messages_fts JOIN messages AS m"
    " ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?"
    " UNION SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH ?)"
)


def where_clause(query: str | None) -> tuple[str, list[str]]:
    """SQL to append to a conversations query, and its parameters ("" when nothing to match)."""
    terms = search_terms(query or "")
    if not terms:
        return "", []
    params = [p for term in terms for p in (term, term)]
    return " WHERE " + " AND ".join([TERM_FILTER] * len(terms)), params


# The first message of one conversation matching an FTS expression, in reading order.
_FIRST_MATCH = (
    "SELECT m.id FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid"
    " WHERE messages_fts MATCH ? AND m.conversation_id = ? ORDER BY m.id LIMIT 1"
)


def first_match(store, conversation_id: int, query: str | None) -> int | None:
    """The id of the first message of a conversation holding every word of `query`, else
    the first holding any of them; None when only the title matches (or nothing does).
    `store` is a `Store` (not imported here: the store imports this module)."""
    terms = search_terms(query or "")
    if not terms:
        return None
    for expression in dict.fromkeys((" AND ".join(terms), " OR ".join(terms))):
        rows = store._query(_FIRST_MATCH, (expression, conversation_id))
        if rows:
            return rows[0][0]
    return None
