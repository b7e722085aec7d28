"""Moving between saved conversations in the real terminal: ctrl+up / ctrl+down (and
alt+up / alt+down) step through them, and so does the sidebar (tab to it, arrows,
enter); each shows its own messages, and the sidebar keeps the open one highlighted."""

from __future__ import annotations

import pytest

from tests.terminal.harness import launched
from tests.terminal.seeded import background, notices, seed

NAMES = ("alpha", "beta", "gamma")  # gamma is the newest: at the top of the list
SIDEBAR = (0, 34)  # its columns


TITLES = ("Gamma chat", "Beta chat", "Alpha chat")


def marked(term, titles: tuple[str, ...]) -> str | None:
    """The one sidebar entry drawn on another background than all the others."""
    colours = {t: background(term, t, SIDEBAR) for t in titles}
    odd = [t for t in titles if list(colours.values()).count(colours[t]) == 1]
    return odd[0] if len(odd) == 1 and len(set(colours.values())) == 2 else None


def to_sidebar(term) -> None:
    """tab from the prompt, and wait until the list has the focus (its background lights
    up): keys typed right behind a tab still reach the prompt (reported, not this test's)."""
    term.press("\t")

    def focused(screen: str) -> bool:
        with term._lock:
            empty_row = term.screen.buffer[8][1].bg  # below the three entries
        return empty_row != background(term, "3 conversations", SIDEBAR)

    term.wait_for(focused, 10, "the sidebar to have the focus")


def ready(term) -> None:
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx " in s, 120, "the model to load")
    term.wait_for(lambda s: not notices(term), 30, "the start's notices to go")


def showing(term, name: str) -> str:
    """Wait until the conversation `name` is the one shown, and only it."""
    others = [n for n in NAMES if n != name]
    return term.wait_for(
        lambda s: f"{name} answer" in s and not any(f"{o} answer" in s for o in others),
        15,
        f"the {name} conversation",
    )


def seeded(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    seed(
        home,
        *[
            (f"{n.capitalize()} chat", [("user", f"{n} question"), ("assistant", f"{n} answer")])
            for n in NAMES
        ],
        model_file=model.name,
    )
    return model


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_ctrl_and_alt_arrows_step_through_the_conversations(home, ladder, size):
    model = seeded(home, ladder)
    with launched(home, model, cols=size[0], rows=size[1]) as term:
        ready(term)
        term.press("ctrl+down")  # from a new conversation: the newest saved one
        showing(term, "gamma")
        term.press("ctrl+down")
        showing(term, "beta")
        term.press("ctrl+down")
        showing(term, "alpha")
        term.press("ctrl+down")  # the last one: it stays
        showing(term, "alpha")
        term.press("alt+up")
        showing(term, "beta")
        term.press("alt+up")
        showing(term, "gamma")
        term.press("alt+down")
        showing(term, "beta")
        term.press("ctrl+up")
        showing(term, "gamma")
        assert term.quit() == 0


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_the_sidebar_opens_conversations_and_keeps_the_open_one_highlighted(home, ladder, size):
    model = seeded(home, ladder)
    with launched(home, model, cols=size[0], rows=size[1]) as term:
        ready(term)
        if size[0] < 100:
            term.write("\x02")  # ctrl+b: the sidebar starts folded on a narrow terminal
        term.wait_for("Beta chat", 10, "the sidebar")
        to_sidebar(term)  # from the prompt to the sidebar's list
        term.press("down")  # nothing open yet: down highlights the first entry
        term.press("\r")
        showing(term, "gamma")
        to_sidebar(term)  # enter put the focus in the prompt: tab back
        term.press("down", "\r")
        showing(term, "beta")
        to_sidebar(term)
        term.press("down", "\r")
        showing(term, "alpha")
        to_sidebar(term)
        term.press("up", "up", "\r")
        showing(term, "gamma")
        to_sidebar(term)
        term.press("down", "down", "\r")
        showing(term, "alpha")
        term.wait_for(lambda s: marked(term, TITLES) == "Alpha chat", 5, "alpha highlighted")

        term.press("f2")
        term.wait_for("▊  Alpha chat", 10, "the rename dialog, holding the old title")
        term.type_line("Alpha renamed")  # the old title is selected: typing replaces it
        term.wait_gone("Rename the conversation", 10)
        term.wait_for("Alpha renamed", 10, "the new title")
        renamed = ("Gamma chat", "Beta chat", "Alpha renamed")
        term.wait_for(lambda s: marked(term, renamed) == "Alpha renamed", 5, "still highlighted")
        term.press("ctrl+up")  # and the list still steps from it
        showing(term, "beta")
        assert term.quit() == 0
    assert home.query("SELECT title FROM conversations ORDER BY id") == [
        ("Alpha renamed",),
        ("Beta chat",),
        ("Gamma chat",),
    ]
