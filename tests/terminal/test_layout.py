"""What stays on screen at every terminal size: the prompt, the state, the main keys."""

from __future__ import annotations

import re

import pytest

from tests.terminal.harness import Terminal, ctrl, launched

MAIN_KEYS = ("Send", "Stop", "New", "Model", "Quant", "Help", "Quit")
SIZES = [(80, 24), (120, 40)]


def ready(term: Terminal) -> None:
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx 0/" in s, 120, "the model to load")


def status_row(term: Terminal) -> str:
    return term.row(term.screen.lines - 2)


def footer_row(term: Terminal) -> str:
    return term.row(term.screen.lines - 1)


def prompt_top(term: Terminal) -> int:
    """The row of the prompt's top border (the lowest ╭ above the status line)."""
    rows = term.text().split("\n")
    return max(i for i, line in enumerate(rows) if "╭" in line and i < len(rows) - 2)


def sidebar_shown(screen: str) -> bool:
    return re.search(r"\b\d+ conversations?\b", screen) is not None


def missing_keys(footer: str) -> list[str]:
    words = [w for w in MAIN_KEYS if not re.search(rf"\b{w}\b", footer)]
    return words + [k for k in ("^o", "f3", "f1", "^q") if k not in footer]


def assert_main_keys(term: Terminal) -> None:
    """The footer, once a resize has been drawn whole, keeps the main keys (a frame in the
    middle of a redraw may be half old, half new: waited out, not judged)."""
    try:
        term.wait_for(lambda s: not missing_keys(footer_row(term)), 10, "the main keys")
    except AssertionError:
        footer = footer_row(term)
        missing = missing_keys(footer)
        raise AssertionError(f"{missing} missing from the footer: {footer!r}") from None


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_notice_covers_neither_the_prompt_being_edited_nor_the_status_line(home, ladder, size):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=size[0], rows=size[1]) as term:
        ready(term)
        term.type_line("hello there")
        term.wait_for("tok/s", 120, "the answer")
        term.wait_for(lambda s: status_row(term).endswith("idle"), 30, "the answer to end")
        term.press("up")  # edit the last message: a notice says how
        screen = term.wait_for("Editing your last message", 10, "the notice")
        rows = screen.split("\n")
        toast_rows = [i for i, line in enumerate(rows) if "Editing your" in line]
        top = prompt_top(term)
        assert toast_rows and max(toast_rows) < top, (toast_rows, top, screen)
        assert "│ hello there" in rows[top + 1], screen  # the text being edited, uncovered
        assert "Q4_K_M" in status_row(term) and status_row(term).endswith("idle"), screen
        assert "Send" in footer_row(term), screen
        assert term.quit() == 0


def test_at_80_columns_the_sidebar_folds_and_the_state_and_main_keys_show(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=80, rows=24) as term:
        ready(term)
        screen = term.wait_for(lambda s: status_row(term).endswith("idle"), 10, "idle")
        assert not sidebar_shown(screen), screen
        assert "Q4_K_M" in status_row(term)
        assert_main_keys(term)
        term.write(ctrl("b"))  # the sidebar can still be opened by hand
        term.wait_for(sidebar_shown, 10, "the sidebar to open")
        term.write(ctrl("b"))
        term.wait_for(lambda s: not sidebar_shown(s), 10, "the sidebar to close")
        term.type_line("Say hello.")
        term.wait_for("tok/s", 120, "the answer")
        term.wait_for(lambda s: status_row(term).endswith("idle"), 30, "the answer to end")
        assert "Q4_K_M" in status_row(term) and "tok/s" in status_row(term)
        assert_main_keys(term)
        assert term.quit() == 0


def test_at_120_columns_with_the_sidebar_the_status_line_keeps_its_state(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        assert sidebar_shown(term.text())
        term.type_line("Say hello.")
        term.wait_for("tok/s", 120, "the answer")
        term.wait_for(lambda s: status_row(term).endswith("idle"), 30, "the state after the answer")
        status = status_row(term)
        assert "SmolLM2-135M-Instruct · Q4_K_M" in status and "tok/s" in status, status
        assert_main_keys(term)
        assert term.quit() == 0


def widest_span(screen: str, marker: str) -> int:
    """The most columns any row holding `marker` text spans (first to last word cell)."""
    widest = 0
    for line in screen.split("\n")[1:]:  # below the conversation's title
        if marker not in line:
            continue
        body = line.split("▕", 1)[-1]  # what is right of the sidebar, if it is shown
        words = [m.span() for m in re.finditer(r"[A-Za-z]+", body)]
        if words:
            widest = max(widest, words[-1][1] - words[0][0])
    return widest


def test_resizing_re_applies_the_layout_and_long_lines_stay_readable(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.wait_for(sidebar_shown, 10, "the sidebar at 120 columns")
        term.resize(80, 24)
        term.wait_for(lambda s: not sidebar_shown(s), 10, "the sidebar to fold at 80 columns")
        term.wait_for(lambda s: "Quit" in footer_row(term), 10, "the footer at 80 columns")
        assert_main_keys(term)
        term.write(ctrl("b"))  # opened by hand while narrow
        term.wait_for(sidebar_shown, 10, "ctrl+b to open the sidebar")
        term.resize(200, 50)
        term.wait_for(lambda s: len(footer_row(term)) > 150, 10, "the app redrawn at 200 columns")
        term.wait_for(sidebar_shown, 10, "the sidebar at 200 columns")
        assert_main_keys(term)
        long_message = " ".join(["lorem ipsum dolor sit amet"] * 20)
        term.paste(long_message)
        term.write("\r")
        term.wait_for(lambda s: "lorem ipsum dolor" in s and "│ lorem" not in s, 30, "sent")
        screen = term.wait_for("tok/s", 120, "the answer")
        span = widest_span(screen, "lorem ipsum")
        assert 60 <= span <= 112, f"the message spans {span} columns:\n{screen}"
        term.resize(80, 24)  # narrow again: folded again, whatever ctrl+b did before
        term.wait_for(lambda s: not sidebar_shown(s), 10, "the sidebar to fold again")
        assert_main_keys(term)
        assert term.quit() == 0


def test_the_compare_title_is_whole_at_80_columns(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    home.add_model(ladder["Q8_0"])
    with launched(home, model, cols=80, rows=24) as term:
        ready(term)
        term.type_line("Say hello.")
        term.wait_for("tok/s", 120, "the answer")
        term.wait_for(lambda s: status_row(term).endswith("idle"), 30, "the answer to end")
        term.write(ctrl("k"))
        term.wait_for("Q8_0", 30, "the quantizations to compare with")
        term.write("q8_0")
        term.wait_for(lambda s: "Q6_K" not in s, 10, "the filter")
        term.write("\r")
        term.wait_for("Keep left", 60, "the compare screen")

        def title_whole(screen: str) -> bool:  # once no notice is over it
            flat = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", screen))
            return re.search(r"same prompt, sampling and seed \(\d+\)", flat) is not None

        term.wait_for(title_whole, 30, "the whole title")
        assert term.quit() == 0
