"""f8 "Score this conversation" in a real terminal: progress and then the figures in the
conversation header, kept for the next launch; escape stops a run and keeps nothing."""

from __future__ import annotations

import json

import pytest

from tests.terminal.harness import ESCAPE, launched
from tests.terminal.seeded import notices, seed

PROSE = (
    "The river bends twice before it reaches the town, and each bend has a mill. "
    "The millers argue every spring about who may open the sluice first, and the "
    "town council settles it with a coin that has been kept for that since 1821. "
)


def chat(turns: int) -> list[tuple[str, str]]:
    out = []
    for i in range(turns):
        out += [("user", f"Tell me about the mills, part {i}."), ("assistant", PROSE * 2)]
    return out


def ready(term) -> None:
    """Loaded, and the saved conversation opened."""
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx " in s, 120, "the model to load")
    term.wait_for(lambda s: not notices(term), 30, "the start's notices to go")
    term.press("ctrl+down")
    term.wait_for("Tell me about the mills", 30, "the saved conversation")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_f8_scores_the_conversation_and_shows_it_in_the_header(home, ladder, size):
    home.add_model(ladder["Q8_0"])  # the reference: the highest precision beside it
    model = home.add_model(ladder["Q4_K_M"])
    seed(home, ("Mills", chat(4)), model_file=model.name)
    with launched(home, model, cols=size[0], rows=size[1]) as term:
        ready(term)
        term.press("f8")
        term.wait_for("Scoring Q4_K_M on this conversation", 30, "the run's progress")
        screen = term.wait_for("Quality on this conversation", 180, "the figures")
        flat = " ".join(screen.split())
        assert "Q4_K_M KLD 0." in flat, screen
        assert term.quit() == 0
    (record,) = json.loads((home.data / "quality.json").read_text())
    assert record["text"].startswith("conversation ") and record["reference_quant"] == "Q8_0"
    assert 0 < record["kld_mean"] < 1
    # Kept: the next launch shows it at once, without scoring again.
    with launched(home, model, cols=size[0], rows=size[1]) as term:
        ready(term)
        term.wait_for(f"KLD {record['kld_mean']:.3f}", 30, "the kept figures in the header")
        assert term.quit() == 0


def test_escape_stops_the_scoring_and_keeps_nothing(home, ladder):
    home.add_model(ladder["Q8_0"])
    model = home.add_model(ladder["Q4_K_M"])
    seed(home, ("Mills", chat(12)), model_file=model.name)
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.press("f8")
        term.wait_for("Scoring Q4_K_M on this conversation", 30, "the run's progress")
        term.write(ESCAPE)
        term.wait_for("Scoring stopped; nothing was kept.", 120, "the stop")
        term.wait_gone("Scoring Q4_K_M on this", 10)
        assert term.quit() == 0
    assert not (home.data / "quality.json").exists()
    assert not list((home.data / "tmp").glob("*.logits"))


def test_the_highest_quant_says_there_is_nothing_to_score_against(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])  # alone in its folder
    seed(home, ("Mills", chat(4)), model_file=model.name)
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.press("f8")
        # (the screen can be read while the toast is half drawn: wait for all of it)
        term.wait_for(
            lambda s: (
                "Cannot score this conversation" in s
                and "highest-precision quantization on disk" in " ".join(s.split())
            ),
            60,
            "the reason",
        )
        assert term.quit() == 0
