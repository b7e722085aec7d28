"""Showing untrusted text (model output, pasted prompts, file names, GGUF metadata, Hub
names, server ids and error bodies) literally: the one display boundary.

Such text may contain Rich/Textual markup (`[bold]`, `[/]`, `[link=…]`) and terminal
escape sequences. `literal()` turns control characters into visible symbols, so an
escape sequence is shown as `␛[31m` instead of reaching the terminal, and names the
invisible bidi controls (`⟨RLO⟩`); markup is neutralised by where the text goes:
widgets with `markup=False`, notifications (the app's `notify` makes both), table
cells as rich `Text` (`cell()`, which applies `literal` itself). The rule is checked
over the whole package by tests/test_display_boundary.py (docs/architecture.md).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported by cell() only: the command line uses literal()
    from rich.console import JustifyMethod
    from rich.text import Text

_KEEP = {"\n", "\t"}
# C0 controls -> U+2400 "control pictures"; DEL -> U+2421; C1 controls -> "�".
_TABLE: dict[int, int | str | None] = {c: 0x2400 + c for c in range(0x20) if chr(c) not in _KEEP}
_TABLE[0x7F] = 0x2421
_TABLE.update({c: 0xFFFD for c in range(0x80, 0xA0)})
_TABLE[0x0D] = None  # a bare carriage return would overwrite the line: drop it
# Explicit bidi embeddings, overrides and isolates are invisible and can make a terminal
# show text in another order than it was written ("Trojan Source"): name them instead.
_BIDI = {0x202A: "LRE", 0x202B: "RLE", 0x202C: "PDF", 0x202D: "LRO", 0x202E: "RLO"}
_BIDI.update({0x2066: "LRI", 0x2067: "RLI", 0x2068: "FSI", 0x2069: "PDI"})
_TABLE.update({c: f"⟨{name}⟩" for c, name in _BIDI.items()})
# Lone surrogates (a file name that is not UTF-8, `"\\ud800"` in a server's JSON) cannot be
# written to a UTF-8 terminal at all: encoding them would raise.
_TABLE.update({c: 0xFFFD for c in range(0xD800, 0xE000)})


def literal(text: str) -> str:
    """`text` with every control character made visible (newlines and tabs kept).

    Idempotent: `literal(literal(s)) == literal(s)`, so passing text twice is harmless."""
    return str(text).translate(_TABLE)


def pasted(text: str) -> str:
    """Pasted text made literal. Terminals send a pasted line break as CR (tmux, xterm,
    VTE) or CRLF (from Windows): each is one line break, not a character to drop."""
    return literal(text.replace("\r\n", "\n").replace("\r", "\n"))


def relative_time(when: float, now: float | None = None) -> str:
    """ "just now", "5 min ago", "3 h ago", "yesterday", "12 Mar"."""
    now = time.time() if now is None else now
    delta = max(0.0, now - when)
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        return f"{int(delta // 3600)} h ago"
    if delta < 2 * 86400:
        return "yesterday"
    if delta < 7 * 86400:
        return f"{int(delta // 86400)} days ago"
    return time.strftime("%d %b %Y" if delta > 300 * 86400 else "%d %b", time.localtime(when))


# Colours for table cells. DataTable sizes columns of rich Text correctly (Textual 8.2
# cuts styled Content cells short), and rich does not know theme variables.
CELL_STYLES = {"ok": "green", "warn": "bold yellow", "bad": "bold red", "dim": "dim"}


def cell(text: str, kind: str = "", justify: JustifyMethod | None = None) -> Text:
    """A table cell, coloured by meaning: ok, warn or bad. Never read as markup, and made
    `literal`: a cell may show any name from outside."""
    from rich.text import Text

    return Text(literal(text), style=CELL_STYLES.get(kind, ""), justify=justify)
