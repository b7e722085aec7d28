"""Hostile strings for names and bodies from outside, and the checks on what reached a terminal.

Each payload carries every class the display boundary (gguf_tui/tui/text.py) must make inert:
OSC 0/2 (the terminal's title), OSC 52 (a clipboard write), OSC 8 (a link), DSR/DA queries
(whose replies the terminal would type into the shell), SGR colours, C0 and C1 controls,
bidi overrides and isolates, and Rich markup, with a closing tag that matches nothing
(`MarkupError` when read as markup). Every control character is followed by text of its
own, so `leaks(raw, payload)` can tell the payload's escapes from the app's.
"""

from __future__ import annotations

import re

ESC = "\x1b"
# Shown first, so a cut-off table cell still shows it neutralised: `[/x]␛]0;PWN␇`.
PAYLOAD = (
    "[/x]\x1b]0;PWN-T0\x07BELA\x1b]2;PWN-T2\x07BELB\x1b]52;c;UFdORUQ=\x07BELC"
    "\x1b]8;;https://evil.example/\x1b\\LINK\x1b]8;;\x1b\\LEND"
    "\x1b[6nDSR\x1b[cDAQ\x1b[31mRED\x1b[0mRST"
    "[bold]B[/bold][link=https://evil.example/]k[/link]"
    "\u202eRLO\u2066LRI\u2069PDI"
    "\x9b2JCSI\x9d0;CTITLE\x9cSTX\x85NEL"
    "\x00NUL\x08BSP\x7fDEL\x0bVTB\x07BEL"
)
# A file name cannot hold `/` (nor NUL): the same classes without them.
NAME_PAYLOAD = (
    "[bold]\x1b]0;PWN-T0\x07BELA\x1b]2;PWN-T2\x07BELB\x1b]52;c;UFdORUQ=\x07BELC"
    "\x1b[6nDSR\x1b[31mRED\x1b[0mRST\u202eRLO\x9b2JCSI\x85NEL\x08BSP\x7fDEL"
)
# What the screen shows of each payload's start (pyte draws ␛ and ⟨RLO⟩ as they are).
PAYLOAD_SHOWN = "[/x]␛]0;PWN-T0␇BELA"
NAME_SHOWN = "[bold]␛]0;PWN-T0␇"

_C0_KEPT = {"\t", "\n"}


def _controls(payload: str) -> list[tuple[int, str]]:
    return [
        (n, c)
        for n, c in enumerate(payload)
        if (ord(c) < 0x20 and c not in _C0_KEPT)
        or 0x7F <= ord(c) <= 0x9F
        or 0x202A <= ord(c) <= 0x202E
        or 0x2066 <= ord(c) <= 0x2069
    ]


def _word_end(payload: str, start: int) -> int:
    """Where the first run of three capitals after `start` ends: a control character and
    what follows it up to there is the payload's own (the app writes `ESC[0m`, never
    `ESC[0mRST`)."""
    match = re.compile(r"[A-Z]{3}").search(payload, start)
    return match.end() if match else len(payload)


def leaks(raw: bytes, *payloads: str) -> list[str]:
    """The payloads' own control characters (with what follows each) found in `raw`:
    [] when nothing of them reached the terminal. Also any title (OSC 0/2) or clipboard
    (OSC 52) sequence at all: the app itself sets neither."""
    found = []
    for payload in payloads:
        for n, _ in _controls(payload):
            probe = payload[n : _word_end(payload, n)]
            if probe.encode("utf-8", "surrogateescape") in raw:
                found.append(repr(probe))
    for osc in (b"\x1b]0;", b"\x1b]2;", b"\x1b]52;", b"\x1b]8;;https://evil", b"\xc2\x9d"):
        if osc in raw:
            found.append(repr(osc))
    return found


def foreign_controls(text: str) -> list[str]:
    """Controls in `text` (what a command printed) but tab and newline: ESC, other C0,
    DEL, C1, bidi overrides and isolates."""
    return sorted({repr(c) for _, c in _controls(text)})
