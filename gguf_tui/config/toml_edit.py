"""Saving config.toml as the user wrote it: only the changed keys' lines are rewritten.

tomli_w writes a whole new file, which drops every comment, blank line and key order a
hand-edited config.toml has. Instead, `update_text` finds each changed setting's statement
(top-level `key = value`, or a key of the `[keymap]` table), replaces just those lines
(keeping the key's spelling, its indent and a trailing comment), appends new keys, and then
checks its work: the edited text must parse to exactly the intended settings. When it
cannot be sure (a dotted key, an unusual layout) it returns None and the caller falls back
to a full rewrite.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

MAX_EDIT_BYTES = 256 * 1024  # statement extents are found by re-parsing: quadratic in a value
_MAX_STATEMENT_LINES = 2000
_KEY = re.compile(
    r"""^(?P<indent>[ \t]*)(?P<key>[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')[ \t]*="""
)
_KEYMAP_HEADER = re.compile(r"""^[ \t]*\[[ \t]*(keymap|"keymap"|'keymap')[ \t]*\][ \t]*(#.*)?$""")


class _Unsure(Exception):
    pass


@dataclass
class _Statement:
    start: int  # first line
    end: int  # last line (inclusive)
    top: str  # the key it sets, at the level of its table
    simple: bool  # `key = value`, not `key.sub = value`


def _parses(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        return None


def _statements(lines: list[str], begin: int) -> tuple[list[_Statement], int]:
    """The statements of one table, from line `begin` to the next table header."""
    found: list[_Statement] = []
    i = begin
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        if stripped.startswith("["):
            break
        for j in range(i, min(len(lines), i + _MAX_STATEMENT_LINES)):
            parsed = _parses("".join(lines[i : j + 1]))
            if parsed is not None:
                break
        else:
            raise _Unsure
        if len(parsed) != 1:
            raise _Unsure
        top = next(iter(parsed))
        simple = _KEY.match(lines[i]) is not None and not isinstance(parsed[top], dict)
        found.append(_Statement(i, j, top, simple or _inline_table(lines[i])))
        i = j + 1
    return found, i


def _inline_table(line: str) -> bool:
    m = _KEY.match(line)
    return m is not None and line[m.end() :].lstrip().startswith("{")


def _value_text(value: Any) -> str:
    import tomli_w

    if isinstance(value, dict):  # an inline table, for `keymap = { … }`
        items = [tomli_w.dumps({k: v}).strip() for k, v in value.items()]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    return tomli_w.dumps({"x": value})[len("x = ") :].rstrip("\n")


def _line(key: str, value: Any) -> str:
    import tomli_w

    return tomli_w.dumps({key: value})


def _comment(line: str, value: Any) -> str:
    """A trailing `# …` of a one-line statement (a `#` inside a string is not one)."""
    body = line.rstrip("\n")
    for pos, char in enumerate(body):
        if char != "#":
            continue
        parsed = _parses(body[:pos])
        if parsed is not None and list(parsed.values()) == [value]:
            return " " + body[pos:]
    return ""


def _replace(lines: list[str], st: _Statement, old: Any, new: Any) -> list[str]:
    m = _KEY.match(lines[st.start])
    if m is None:
        raise _Unsure
    comment = _comment(lines[st.start], old) if st.start == st.end else ""
    return [f"{m.group('indent')}{m.group('key')} = {_value_text(new)}{comment}\n"]


Edit = tuple[int, int, list[str]]  # replace lines[start:end] with these


def _table_edits(
    lines: list[str], stmts: list[_Statement], old: dict, new: dict, append_at: int
) -> list[Edit]:
    edits: list[Edit] = []
    by_key = {st.top: st for st in stmts}
    added: list[str] = []
    for key, value in new.items():
        if key in old and old[key] == value:
            continue
        st = by_key.get(key)
        if st is None:
            if key in old:
                raise _Unsure
            added.append(_line(key, value))
        elif not st.simple:
            raise _Unsure
        else:
            edits.append((st.start, st.end + 1, _replace(lines, st, old.get(key), value)))
    for key in old:
        if key not in new:
            st = by_key.get(key)
            if st is None or not st.simple:
                raise _Unsure
            edits.append((st.start, st.end + 1, []))
    if added:
        edits.append((append_at, append_at, added))
    return edits


def update_text(text: str, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """`text` (which parses to `old`) edited so that it parses to `new`, or None."""
    if len(text) > MAX_EDIT_BYTES:
        return None
    try:
        result = _update(text, old, new)
    except _Unsure:
        return None
    return result if _parses(result) == new else None


def _update(text: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    root, root_end = _statements(lines, 0)
    if any(key not in new for key in old):
        raise _Unsure  # settings never remove a top-level key
    keymap_table = isinstance(new.get("keymap"), dict)
    changed = {
        k: v
        for k, v in new.items()
        if (k not in old or old[k] != v) and not (k == "keymap" and keymap_table)
    }
    if any(isinstance(v, dict) for v in changed.values()):
        raise _Unsure
    append_root = root[-1].end + 1 if root else root_end
    before = {k: old[k] for k in changed if k in old}
    edits = _table_edits(lines, root, before, changed, append_root)
    if edits and not root and edits[-1][0] == root_end < len(lines):
        edits[-1] = (root_end, root_end, [*edits[-1][2], "\n"])  # a blank line before [x]
    if "keymap" in new and isinstance(new["keymap"], dict) and new["keymap"] != old.get("keymap"):
        edits += _keymap_edits(lines, root, old.get("keymap"), new["keymap"], bool(edits))
    # Bottom up, so earlier indices stay valid; of two insertions at one place, the one
    # listed first (the root table's) ends up first.
    order = sorted(range(len(edits)), key=lambda i: (edits[i][0], edits[i][1], i), reverse=True)
    for i in order:
        start, end, replacement = edits[i]
        lines[start:end] = replacement
    return "".join(lines)


def _keymap_edits(
    lines: list[str], root: list[_Statement], old: Any, new: dict, after_root: bool
) -> list[Edit]:
    inline = next((st for st in root if st.top == "keymap"), None)
    if inline is not None:  # `keymap = { … }` in the root table
        if not inline.simple:
            raise _Unsure
        return [(inline.start, inline.end + 1, _replace(lines, inline, old, new))]
    header = next((i for i, line in enumerate(lines) if _KEYMAP_HEADER.match(line)), None)
    if header is None:
        if old is not None:  # [keymap] spelt some other way: not ours to guess
            raise _Unsure
        block = [_line(k, v) for k, v in new.items()]
        lead = ["\n"] if (lines and lines[-1].strip()) or (after_root and not lines) else []
        return [(len(lines), len(lines), [*lead, "[keymap]\n", *block])]
    stmts, _ = _statements(lines, header + 1)
    append_at = stmts[-1].end + 1 if stmts else header + 1
    return _table_edits(lines, stmts, old if isinstance(old, dict) else {}, new, append_at)
