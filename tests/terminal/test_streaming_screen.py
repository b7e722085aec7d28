"""What a streaming answer looks like in a real terminal (issue 17).

The streaming widget repaints only the lines that changed, so a line it forgets to
repaint stays wrong on the user's screen until the answer ends: these tests read the
screen of the installed `gguf-tui` *while* a loopback server streams, not after.
"""

from __future__ import annotations

import itertools
import re
import time

from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks
from tests.terminal.harness import Home, launched

CODE_LINE = "    total = (total * 31 + data[{i} % len(data)]) % 65521\n"
SCROLLBAR = "\u2581-\u2588"  # the view's scrollbar, drawn at the end of some rows
FULL = re.compile(
    rf"total = \(total \* 31 \+ data\[(\d+) % len\(data\)\]\) % 65521[\s{SCROLLBAR}]*$"
)


def answer_pieces() -> list[str]:
    """Prose, a 40-line code block and a table, in pieces of four characters (as a
    server sends tokens), so lines and the code block are cut wherever they fall."""
    text = "Some prose before the code, which wraps over a line or two of the view.\n\n"
    text += "```python\ndef checksum(data: bytes) -> int:\n    total = 0\n"
    text += "".join(CODE_LINE.format(i=i) for i in range(40))
    text += "    return total\n```\n\n| quant | size |\n| --- | --- |\n| Q4_K_M | 4.1 GB |\n\nDONE."
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def code_rows(screen: str) -> list[str]:
    return [row for row in screen.splitlines() if "total = (total" in row]


def test_every_line_of_a_streaming_code_block_is_repainted_as_it_completes(home: Home):
    """A line written in two frames is shown whole once the next line starts, at every
    moment of the stream (a seal between two frames once left it cut on the screen)."""
    pieces = answer_pieces()
    with FakeOpenAI(models=["plain"]) as lab:
        lab.replies.append(Reply(chunks=text_chunks(pieces), delay=1 / 60))
        with launched(home, "--server", lab.url, cols=100, rows=30) as term:
            term.wait_for("plain", 60, "the server's model")
            term.type_line("Write the code")
            term.wait_for("total = (total", 30, "the code block streaming")
            seen: set[int] = set()
            # A read can land in the middle of a frame (a scroll repaints every row), so a
            # cut line counts only when it is still there, unchanged, 5 reads later
            # (~0.15 s): the bug this catches left the line cut until the answer ended.
            suspects: dict[str, int] = {}
            deadline = time.monotonic() + 60
            while "writing …" in (screen := term.text()) and time.monotonic() < deadline:
                cut_now = set()
                for row, below in itertools.pairwise(code_rows(screen)):
                    if whole := FULL.search(row):
                        seen.add(int(whole.group(1)))
                    else:
                        cut_now.add(row + "\n" + below)
                suspects = {key: suspects.get(key, 0) + 1 for key in cut_now}
                stale = [key for key, reads in suspects.items() if reads >= 5]
                assert not stale, f"a line left cut above the next:\n{stale[0]}\n{screen}"
                time.sleep(0.03)
            assert len(seen) > 10, f"too few frames read mid-stream ({len(seen)} lines)"
            term.wait_for("DONE.", 30, "the end of the answer")
            assert term.quit() == 0
