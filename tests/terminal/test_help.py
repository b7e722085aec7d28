"""f1: every screen's keys, each remappable one with its id, whole at 80x24 and 120x40."""

from __future__ import annotations

import re

import pytest

from gguf_tui.tui.keymap import HELP_SECTIONS, SCOPES
from tests.terminal.harness import ESCAPE, Terminal, launched

FRAME = re.compile(r"[│╭╮╰╯─▕▏▁▂▃▄▅▆▇█▔▌▐]")
SECTIONS = (
    "Chat",
    "Prompt",
    "Conversation",
    "Sidebar",
    "Model picker",
    "Quantization switcher",
    "Compare",
    "Benchmark",
    "Settings forms",
)


def inside(screen: str) -> list[str]:
    """The screen's rows without box lines and scroll bars."""
    return [FRAME.sub(" ", line) for line in screen.split("\n")]


def flat(rows: list[str]) -> str:
    return re.sub(r"\s+", " ", " ".join(rows))


def read_all_help(term: Terminal) -> list[list[str]]:
    """Every view of the help, scrolling down one line at a time to its end."""
    views = [inside(term.text())]
    for _ in range(300):
        before = term.text()
        term.press("down")
        try:
            term.wait_for(lambda s, b=before: s != b, 3, "the help to scroll")
        except AssertionError:
            return views  # it no longer moves: the end
        views.append(inside(term.text()))
    raise AssertionError("the help never reached its end")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_lists_every_screens_keys_with_their_ids(home, ladder, size):
    home.config.mkdir(parents=True, exist_ok=True)
    (home.config / "config.toml").write_text('[keymap]\nnew_chat = "ctrl+t"\n', encoding="utf-8")
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=size[0], rows=size[1]) as term:
        term.wait_for(lambda s: "Q4_K_M" in s and "ctx 0/" in s, 120, "the model to load")
        term.wait_gone("Loaded", 15)  # the notice would sit over the help's first lines
        term.press("f1")
        first = term.wait_for("config.toml", 10, "the help")
        assert "[keymap]" in first, first
        views = read_all_help(term)
        flats = [flat(v) for v in views]
        everything = " ".join(flats)

        def shown(text: str) -> bool:
            return any(text in f for f in flats)

        for _, actions in SCOPES:  # every table of keymap.py: every screen's keys
            for action in actions:
                assert shown(action.help), f"{action.id}: {action.help!r} not whole in the help"
                assert re.search(rf"(?<![\w.]){re.escape(action.id)}\b", everything), action.id
                if action.id != "new_chat":
                    assert action.keys.split(",")[0] in everything, action.keys
        for section in HELP_SECTIONS:  # the keys widgets read themselves (up, tab …)
            for keys, text in section.notes:
                assert shown(f"{keys} {text}"), (keys, text)
        for title in SECTIONS:
            assert title in everything, title
        remapped = [
            row for v in views for row in v if "ctrl+t" in row and "Start a new conversation" in row
        ]
        assert remapped, "the remapped key is not the one shown for new_chat"
        term.write(ESCAPE)
        term.wait_gone("config.toml", 10)
        assert term.quit() == 0
