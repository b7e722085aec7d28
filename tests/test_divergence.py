"""Compare's "where the answers part" marker (gguf_tui/chat/divergence.py)."""

from __future__ import annotations

from gguf_tui.chat.divergence import first_difference


def test_identical_answers_say_so():
    d = first_difference("Paris is the capital.", "Paris is the capital.")
    assert d.identical and d.summary() == "The two answers are identical."


def test_answers_part_at_the_start_of_the_word_that_differs():
    d = first_difference("The capital is Paris, a city.", "The capital is Parma? No.")
    assert not d.identical
    assert (d.words, d.before, d.left, d.right) == (
        3,
        "The capital is",
        "Paris, a city.",
        "Parma? No.",
    )
    assert d.summary() == "Identical for the first 3 words (15 characters)."


def test_an_answer_that_stopped_early_parts_where_it_ends():
    d = first_difference("Paris is", "Paris is big and old")
    assert (d.words, d.left, d.right) == (2, "", "big and old")


def test_different_from_the_first_word():
    d = first_difference("Yes.", "No.")
    assert d.common == 0 and d.summary() == "The answers differ from the first word."


def test_snippets_are_one_line_and_bounded():
    left = "same words here\n\n" + "a" * 500
    right = "same words here\n\n" + "b\n" * 300
    d = first_difference(left, right, snippet=10)
    assert "\n" not in d.before + d.left + d.right
    assert len(d.left) <= 10 and len(d.right) <= 10
