"""Typing and pasting into the real `gguf-tui` as terminals deliver it."""

from __future__ import annotations

import pytest

from tests.terminal.harness import launched


def finished(home) -> int:
    """Answers saved with how they ended."""
    if not home.database.exists():
        return 0
    sql = "SELECT count(*) FROM messages WHERE role = 'assistant' AND finish_reason IS NOT NULL"
    return home.query(sql)[0][0]


def ready(term) -> None:
    """The model named on the status line and its context shown: loaded."""
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx 0/" in s, 120, "the model to load")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_a_line_and_its_enter_in_one_read_sends_the_whole_line(home, ladder, size):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=size[0], rows=size[1]) as term:
        ready(term)
        term.type_line("Tell me a short joke.")
        term.wait_for("tok/s", 120, "the answer's figures")
        assert term.quit() == 0
        assert term.restored()
    assert home.sent() == ["Tell me a short joke."]


def test_two_bursts_back_to_back_are_two_messages_in_order(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model) as term:
        ready(term)
        term.type_line("First question?")
        term.wait_for(lambda _: finished(home) >= 1, 120, "the first answer")
        term.type_line("Second question?")
        term.wait_for(lambda _: finished(home) >= 2, 120, "the second answer")
        assert term.quit() == 0
    assert home.sent() == ["First question?", "Second question?"]


def test_a_multi_line_paste_keeps_its_line_breaks(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.paste("first line\nsecond line\r\nthird line")
        term.wait_for("third line", 10, "the pasted text in the prompt")
        screen = term.text()
        assert "first linesecond line" not in screen.replace(" ", "")
        term.write("\r")
        term.wait_for("tok/s", 120, "the answer")
        assert term.quit() == 0
    assert home.sent() == ["first line\nsecond line\nthird line"]


def test_a_paste_with_a_very_long_line_is_held_and_sent_whole(home, ladder):
    """A 200 KB minified line in one bracketed paste: the prompt shows a token for it, keys
    typed after it land at once, and the whole line is what is sent."""
    line = '{"key": "value", "n": 12345}, ' * 6_900
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=80, rows=24) as term:
        ready(term)
        term.paste("look at this:\n" + line)
        term.wait_for(f"[long line #1: {len(line):,} characters]", 30, "the held line")
        term.write(" ok?")
        term.wait_for("characters] ok?", 10, "the keys typed after it")
        term.write("\r")
        term.wait_for(lambda _: bool(home.sent()), 30, "the message to be saved")
        term.wait_for("context", 60, "the answer or the context notice")
        assert term.quit() == 0
    assert home.sent() == [f"look at this:\n{line} ok?"]


def test_corrections_inside_a_burst_apply_in_order(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model) as term:
        ready(term)
        term.write("Helo" + "\x7f\x7f" + "llo there" + "\x1b[D" * 6 + "," + "\r")
        term.wait_for("tok/s", 120, "the answer")
        assert term.quit() == 0
    assert home.sent() == ["Hello, there"]


def test_the_context_count_moves_while_the_answer_is_written(home, ladder):
    import re
    import time

    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, "--temperature", "0", cols=120, rows=40) as term:
        ready(term)
        term.type_line("Count from 1 to 200, one number per line.")
        term.wait_for("writing …", 60, "the answer to start")
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        gone = 0  # reads in a row without "writing …" (one read can land mid-frame)
        while len(seen) < 3 and time.monotonic() < deadline:
            screen = term.text()
            gone = 0 if "writing …" in screen else gone + 1
            if gone >= 5:
                break
            if m := re.search(r"ctx ([\d,]+)/", screen):
                seen.add(m[1])
            time.sleep(0.05)
        term.write("\x1b")  # stop the answer: it is kept
        assert len(seen) >= 3, f"ctx values seen while writing: {seen}"
        assert term.quit() == 0
