"""Time to first token counts from the request, and says what it waited for."""

from __future__ import annotations

from gguf_tui.engine import Engine, Finished, LoadOptions, Sampling
from gguf_tui.engine.events import GenerationStats


def _finished(gen) -> Finished:
    outcome = gen.result(120)
    assert isinstance(outcome, Finished), outcome
    return outcome


def test_a_reply_queued_behind_a_load_counts_the_load_and_says_so(ladder):
    with Engine() as engine:
        engine.load(ladder["Q8_0"], LoadOptions(n_ctx=1024)).result(120)
        loading = engine.load(ladder["Q4_K_M"], LoadOptions(n_ctx=1024))
        gen = engine.chat(
            [{"role": "user", "content": "Hi"}], Sampling(max_tokens=4, temperature=0)
        )
        info = loading.result(120)
        stats = _finished(gen).stats
    assert stats.waited_for == "loading the model"
    assert stats.waited_seconds >= info.load_seconds * 0.9
    assert stats.time_to_first_token > stats.waited_seconds
    # Said when the wait is a real share of the time to first token; on a busy machine the
    # prompt itself can take 30 times the load, and then the load is not worth a mention.
    worth_saying = stats.waited_seconds >= stats.time_to_first_token / 4
    assert ("loading the model" in stats.first_token_text()) == worth_saying


def test_a_reply_with_nothing_ahead_waits_for_nothing(engine):
    gen = engine.chat([{"role": "user", "content": "Hi"}], Sampling(max_tokens=4, temperature=0))
    stats = _finished(gen).stats
    assert stats.waited_for == ""
    assert stats.waited_seconds < 0.1
    assert "(" not in stats.first_token_text()


def test_no_token_is_said_plainly():
    assert GenerationStats(generated_tokens=0).first_token_text() == "no token written"
    assert GenerationStats(generated_tokens=3, time_to_first_token=0.25).first_token_text() == (
        "first token 250 ms"
    )
    slow = GenerationStats(
        generated_tokens=3, time_to_first_token=5.2, waited_seconds=4.9, waited_for="loading"
    )
    assert slow.first_token_text() == "first token 5.2 s (4.9 s loading)"
