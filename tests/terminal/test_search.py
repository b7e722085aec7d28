"""Searching from the sidebar in the real terminal: Enter opens the first hit, scrolled to
the matching message and highlighting it, however far back in the conversation it is."""

from __future__ import annotations

import pytest

from tests.terminal.harness import launched
from tests.terminal.seeded import background, copied, notices, seed

MATCH = "The ferry to Zanzibar leaves at nine."


def ready(term) -> None:
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx " in s, 120, "the model to load")
    term.wait_for(lambda s: not notices(term), 30, "the start's notices to go")


def long_chat() -> list[tuple[str, str]]:
    """60 messages; the match is the 4th, far above what opening the chat shows."""
    messages = []
    for n in range(30):
        messages.append(("user", f"Question number {n}?"))
        messages.append(("assistant", MATCH if n == 1 else f"Answer number {n}."))
    return messages


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_enter_in_the_search_box_opens_the_first_hit_at_the_match(home, ladder, size):
    model = home.add_model(ladder["Q4_K_M"])
    seed(
        home,
        ("Travel plans", long_chat()),
        ("Cooking", [("user", "How long to boil an egg?"), ("assistant", "Nine minutes.")]),
        model_file=model.name,
    )
    with launched(home, model, cols=size[0], rows=size[1]) as term:
        ready(term)
        term.write("\x06")  # ctrl+f
        term.wait_for("Search conversations", 10, "the search box")
        term.write("zanzibar")
        term.wait_for("1 match", 10, "the one conversation that matches")
        term.write("\r")
        screen = term.wait_for(
            # and a little before it (and not under the model's "Loaded" toast)
            lambda s: MATCH in s and "Question number 1?" in s and "Answer number 2." in s,
            15,
            "the matching message, scrolled to",
        )
        assert "Travel plans" in screen
        assert "Answer number 29." not in screen  # not the end of the conversation
        # It is marked: its background is not the one of another answer.
        assert background(term, MATCH) != background(term, "Answer number 2.")
        # And it is the highlighted message: "copy message" from the palette takes it.
        term.write("\x10")  # ctrl+p
        term.wait_for("Search for commands", 10, "the command palette")
        term.write("Copy the highlighted")
        term.wait_for("Copy message", 10, "the command")
        term.write("\r")
        term.wait_for(lambda s: copied(term), 10, "a clipboard write")
        assert copied(term) == [MATCH]
        assert term.quit() == 0
