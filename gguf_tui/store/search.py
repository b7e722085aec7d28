"""Turning what a user types into the search box into safe FTS5 queries.

FTS5 has its own query language (`AND`, `NEAR`, `"`, `*`, `-`, column filters),
and half-typed text is full of it. So nothing typed is ever syntax: each
whitespace-separated word becomes a quoted FTS string (a phrase, so `gguf-tui`
still means the two words together), and only the last one, while still being
typed, is a prefix.
"""

from __future__ import annotations


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def search_terms(query: str) -> list[str]:
    """One FTS5 expression per word of `query`; every one must match.

    Words with no letter or digit are left out: the tokenizer would find nothing
    in them, and an empty phrase matches no row, which would empty the results.
    """
    words = [w for w in query.split() if any(ch.isalnum() for ch in w)]
    terms = [_quote(w) for w in words]
    if terms and query[-1:].strip():
        terms[-1] += " *"  # still typing: "pyth" finds "python"
    return terms


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
