"""Each conversation keeps its KV cache when another one is answered in between."""

from __future__ import annotations

import pytest

from gguf_tui.engine import Engine, Finished, LoadOptions, Sampling

SHORT = Sampling(temperature=0.0, seed=1, max_tokens=8)
NOTES = " ".join(f"Note {i}: the {w} is on shelf {i}." for i, w in enumerate(["cup", "pen"] * 8))


def conversation(topic: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"You answer questions about {topic}. {NOTES}"},
        {"role": "user", "content": f"Tell me one fact about {topic}."},
    ]


def follow_up(messages: list[dict[str, str]], answer: Finished) -> list[dict[str, str]]:
    return [
        *messages,
        {"role": "assistant", "content": answer.text},
        {"role": "user", "content": "Say it again, shorter."},
    ]


@pytest.fixture(scope="module")
def eng(smollm_path):
    with Engine() as engine:
        engine.load(smollm_path, LoadOptions(n_ctx=1024)).result(120)
        yield engine


def test_coming_back_to_a_conversation_reads_only_the_new_turn(eng):
    a, b = conversation("the sea"), conversation("mountains")
    first = eng.chat(a, SHORT, cache_key=1).result(60)
    assert first.stats.prompt_tokens > 150
    eng.chat(b, SHORT, cache_key=2).result(60)  # evicts A's tokens from the KV cache
    again = eng.chat(follow_up(a, first), SHORT, cache_key=1).result(60)
    assert isinstance(again, Finished)
    assert again.stats.prompt_tokens > 150
    assert again.stats.prompt_tokens_evaluated < 40, again.stats


def test_without_keys_the_other_conversation_evicts_the_prefix(eng):
    a, b = conversation("rivers"), conversation("deserts")
    first = eng.chat(a, SHORT).result(60)
    eng.chat(b, SHORT).result(60)
    again = eng.chat(follow_up(a, first), SHORT).result(60)
    # Only the few tokens before the topic are shared; the rest of A is read again.
    assert again.stats.prompt_tokens_evaluated > again.stats.prompt_tokens - 20


def test_a_restored_cache_answers_exactly_like_an_uninterrupted_one(eng):
    a = conversation("volcanoes")
    first = eng.chat(a, SHORT, cache_key="x").result(60)
    straight = eng.chat(follow_up(a, first), SHORT, cache_key="x").result(60)
    eng.chat(conversation("glaciers"), SHORT, cache_key="y").result(60)
    restored = eng.chat(follow_up(a, first), SHORT, cache_key="x").result(60)
    assert restored.text == straight.text
    assert restored.stats.prompt_tokens_evaluated <= straight.stats.prompt_tokens_evaluated + 1


def test_a_plain_completion_in_between_keeps_the_conversation(eng):
    a = conversation("forests")
    first = eng.chat(a, SHORT, cache_key=10).result(60)
    eng.complete("Once upon a time " * 40, SHORT).result(60)
    again = eng.chat(follow_up(a, first), SHORT, cache_key=10).result(60)
    assert again.stats.prompt_tokens_evaluated < 40


def test_loading_a_model_drops_every_kept_state(smollm_path):
    with Engine() as engine:
        engine.load(smollm_path, LoadOptions(n_ctx=1024)).result(120)
        a = conversation("clouds")
        first = engine.chat(a, SHORT, cache_key=1).result(60)
        engine.chat(conversation("rain"), SHORT, cache_key=2).result(60)
        engine.load(smollm_path, LoadOptions(n_ctx=1024)).result(120)
        again = engine.chat(follow_up(a, first), SHORT, cache_key=1).result(60)
        assert again.stats.prompt_tokens_evaluated == again.stats.prompt_tokens


def test_the_lru_keeps_at_most_max_states(smollm_path):
    with Engine() as engine:
        engine._states.max_states = 1
        engine.load(smollm_path, LoadOptions(n_ctx=1024)).result(120)
        a = conversation("stars")
        first = engine.chat(a, SHORT, cache_key=1).result(60)
        engine.chat(conversation("moons"), SHORT, cache_key=2).result(60)  # A kept
        engine.chat(conversation("comets"), SHORT, cache_key=3).result(60)  # B kept, A out
        again = engine.chat(follow_up(a, first), SHORT, cache_key=1).result(60)
        assert again.stats.prompt_tokens_evaluated > 150
        assert len(engine._states) == 1 and engine._states.nbytes > 0


def test_a_forgotten_conversation_keeps_no_cache(eng):
    a, b = conversation("deleted things"), conversation("kept things")
    first = eng.chat(a, SHORT, cache_key=20).result(60)
    eng.chat(b, SHORT, cache_key=21).result(60)
    eng.forget(20)  # the conversation was deleted
    again = eng.chat(follow_up(a, first), SHORT, cache_key=20).result(60)
    assert again.stats.prompt_tokens_evaluated > again.stats.prompt_tokens - 20
