"""Switching (f3) and comparing (ctrl+k) quantizations of a model launched by path.

The model sits in a folder that is no model folder (~/Downloads/llm) and no
--models-dir is given: the most natural launch, `gguf-tui DIR/Model-Q4_K_M.gguf`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from gguf_tui.chat.divergence import first_difference
from tests.terminal.harness import ESCAPE, Home, ctrl, launched

QUANTS = ("Q8_0", "Q4_K_M", "Q3_K_S")


@pytest.fixture
def downloads(home: Home, ladder) -> dict[str, Path]:
    folder = home.root / "Downloads" / "llm"
    folder.mkdir(parents=True)
    out = {}
    for quant in QUANTS:
        target = folder / ladder[quant].name
        try:
            os.link(ladder[quant], target)
        except OSError:
            shutil.copyfile(ladder[quant], target)
        out[quant] = target
    return out


def in_use(term, quant: str) -> None:
    """The status line names `quant` and nothing is loading any more."""
    term.wait_for(
        lambda s: f"· {quant} │" in s and "ctx " in s and "loading" not in s, 120, f"{quant} in use"
    )


def answers(home: Home, n: int):
    """A test on the screen: `n` answers finished (saved with how they ended) and none
    being written any more."""

    def finished(screen: str) -> bool:
        if "writing …" in screen or not home.database.exists():
            return False
        sql = "SELECT count(*) FROM messages WHERE role = 'assistant' AND finish_reason IS NOT NULL"
        return home.query(sql)[0][0] >= n

    return finished


def last_model(home: Home) -> str:
    return json.loads((home.data / "state.json").read_text())["last_model"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_f3_lists_the_siblings_beside_a_model_opened_by_path(home, downloads, size):
    with launched(home, downloads["Q4_K_M"], cols=size[0], rows=size[1]) as term:
        in_use(term, "Q4_K_M")
        term.press("f3")
        screen = term.wait_for("3 on disk", 30, "the siblings")
        assert "Q8_0" in screen and "Q3_K_S" in screen
        term.type_line("Q8")  # filter, and enter chooses
        in_use(term, "Q8_0")
        assert term.quit() == 0
    assert last_model(home) == str(downloads["Q8_0"])


def test_compare_escape_while_the_other_loads_keeps_the_first_model_everywhere(home, downloads):
    with launched(home, downloads["Q4_K_M"], cols=120, rows=40) as term:
        in_use(term, "Q4_K_M")
        term.type_line("Name a colour.")
        term.wait_for(answers(home, 1), 120, "the first answer")
        term.write(ctrl("k"))
        term.wait_for("Answer again with", 30, "the switcher")
        term.wait_for("3 on disk", 30, "the siblings")
        term.type_line("Q3")
        term.wait_for("2 · ", 30, "the compare screen")
        term.write(ESCAPE)  # while Q3_K_S loads, or just after
        term.wait_gone("2 · ", 30)
        in_use(term, "Q4_K_M")
        # It stays so: nothing loads Q3_K_S behind the user's back.
        term.type_line("And another?")
        term.wait_for(answers(home, 2), 120, "the second answer")
        in_use(term, "Q4_K_M")
        assert term.quit() == 0
    assert last_model(home) == str(downloads["Q4_K_M"])
    quants = [q for (q,) in home.query("SELECT quant FROM messages WHERE role = 'assistant'")]
    assert quants == ["Q4_K_M", "Q4_K_M"]


def test_compare_keep_right_continues_with_the_other_quant(home, downloads):
    with launched(home, downloads["Q4_K_M"], cols=120, rows=40) as term:
        in_use(term, "Q4_K_M")
        term.type_line("Name a colour.")
        term.wait_for(answers(home, 1), 120, "the first answer")
        term.write(ctrl("k"))
        term.wait_for("3 on disk", 30, "the siblings")
        term.type_line("Q8")
        term.wait_for("2 · Q8_0", 60, "the compare screen with Q8_0's side")
        term.wait_for("Q8_0.gguf · Q8_0 ·", 120, "Q8_0's answer and its figures")
        # Where the two answers part is marked under them.
        screen = term.wait_for(
            lambda s: any(p in s for p in ("Identical for the first", "identical.", "differ from")),
            30,
            "where the two answers part",
        )
        (first,) = [
            c for (c,) in home.query("SELECT content FROM messages WHERE role = 'assistant'")
        ]
        term.write("2")
        term.wait_for("Keeping the Q8_0 answer", 30)
        in_use(term, "Q8_0")
        # Both answers are kept, as two versions; the Q4_K_M one is one key away.
        term.wait_for("‹ 2/2 ›", 30, "the kept answer marked as the second version")
        term.press("alt+left")
        screen_first = term.wait_for("‹ 1/2 ›", 30, "the first answer, back")
        assert "Q4_K_M.gguf · Q4_K_M" in screen_first  # which quant wrote which version
        assert term.quit() == 0
    assert last_model(home) == str(downloads["Q8_0"])
    rows = home.query(
        "SELECT content, quant, parent_id FROM messages WHERE role = 'assistant' ORDER BY id"
    )
    assert len(rows) == 2 and rows[0][:2] == (first, "Q4_K_M") and rows[1][1] == "Q8_0"
    assert rows[0][2] == rows[1][2]  # siblings: both answer the same question
    kept = rows[1][0]
    assert first_difference(first, kept).summary() in " ".join(screen.split())


def test_a_relaunch_reopens_the_last_conversation_with_its_model(home, downloads):
    with launched(home, downloads["Q4_K_M"]) as term:
        in_use(term, "Q4_K_M")
        term.type_line("Remember the word teapot.")
        term.wait_for(answers(home, 1), 120, "the answer")
        assert term.quit() == 0
    with launched(home) as term:  # no arguments: the last model, the last conversation
        in_use(term, "Q4_K_M")
        screen = term.wait_for("Remember the word teapot.", 30, "the conversation reopened")
        assert "Start typing below" not in screen
        assert "ctrl+l" not in screen, "offered to load the model that is already loading"
        assert term.quit() == 0
