"""The engine on real llama.cpp and real GGUF files."""

from __future__ import annotations

import time

import pytest

from gguf_tui.engine import (
    CONTEXT,
    LENGTH,
    STOP,
    STOPPED,
    ContextTrimmed,
    Engine,
    EngineError,
    Failed,
    Finished,
    LoadOptions,
    Sampling,
    TextDelta,
)

GREEDY = Sampling(temperature=0.0, seed=1, max_tokens=48)


def ask(text, system="You are a helpful assistant."):
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def test_reply_streams_in_many_deltas(engine):
    gen = engine.chat(ask("What is the capital of France?"), GREEDY)
    deltas = []
    for event in gen:
        if isinstance(event, TextDelta):
            deltas.append(event.text)
    outcome = gen.outcome
    assert isinstance(outcome, Finished)
    assert outcome.reason in (STOP, LENGTH)
    assert "Paris" in outcome.text
    assert "".join(deltas) == outcome.text
    assert len(deltas) > 3  # streamed token by token, not in one piece
    stats = outcome.stats
    assert stats.generated_tokens >= len(deltas) - 1
    assert stats.prompt_tokens > 10
    assert stats.generation_tokens_per_second > 0
    assert 0 < stats.time_to_first_token < stats.total_seconds


def test_greedy_with_a_seed_is_deterministic(engine):
    first = engine.chat(ask("Name three fruits."), GREEDY).result(60)
    second = engine.chat(ask("Name three fruits."), GREEDY).result(60)
    assert first.text == second.text and first.text


def test_different_seeds_give_different_answers(engine):
    texts = {
        engine.chat(
            ask("Tell me a one-line story."), Sampling(temperature=1.0, seed=s, max_tokens=30)
        )
        .result(60)
        .text
        for s in (1, 2, 3)
    }
    assert len(texts) > 1


def test_max_tokens_ends_with_length(engine):
    out = engine.chat(
        ask("Count from 1 to 100, separated by commas."),
        Sampling(temperature=0, seed=1, max_tokens=5),
    ).result(60)
    assert out.reason == LENGTH and out.stats.generated_tokens == 5


def test_stop_mid_stream_then_next_turn_reuses_the_prefix(engine):
    messages = ask("Write a long story about a dragon who learns to bake bread.")
    gen = engine.chat(messages, Sampling(temperature=0.7, seed=4, max_tokens=400))
    seen = ""
    deadline = time.monotonic() + 60
    while len(seen) < 40 and time.monotonic() < deadline:
        for event in gen.wait(1):
            if isinstance(event, TextDelta):
                seen += event.text
    gen.stop()
    outcome = gen.result(30)
    assert isinstance(outcome, Finished) and outcome.reason == STOPPED
    assert outcome.text.startswith(seen) and 40 <= len(outcome.text) < 2000
    assert outcome.stats.generated_tokens < 400

    messages += [
        {"role": "assistant", "content": outcome.text},
        {"role": "user", "content": "Give the dragon a name."},
    ]
    nxt = engine.chat(messages, GREEDY).result(60)
    assert isinstance(nxt, Finished) and nxt.text
    # The conversation so far was still in the KV cache: only the new turn was processed.
    assert nxt.stats.prompt_tokens_evaluated < nxt.stats.prompt_tokens / 2


def test_stop_during_prompt_processing(smollm_path):
    with Engine() as eng:
        eng.load(smollm_path, LoadOptions(n_ctx=8192, n_batch=512)).result(60)
        long_prompt = ask(
            "Summarise this: " + "the quick brown fox jumps over the lazy dog. " * 700
        )
        gen = eng.chat(long_prompt, GREEDY)
        time.sleep(0.3)  # let prompt processing start (it takes several seconds)
        started = time.monotonic()
        gen.stop()
        outcome = gen.result(30)
        stopped_in = time.monotonic() - started
        assert isinstance(outcome, Finished) and outcome.reason == STOPPED
        assert outcome.stats.generated_tokens == 0
        assert stopped_in < 2.0, f"stopping took {stopped_in:.2f}s"
        after = eng.chat(ask("Say hello."), GREEDY).result(60)
        assert isinstance(after, Finished) and after.text


def test_long_conversation_is_trimmed_and_answered(smollm_path):
    with Engine() as eng:
        eng.load(smollm_path, LoadOptions(n_ctx=512)).result(60)
        messages = [{"role": "system", "content": "You are terse."}]
        for i in range(40):
            messages += [
                {"role": "user", "content": f"Remember the number {i}, please."},
                {"role": "assistant", "content": f"I will remember {i}."},
            ]
        messages.append({"role": "user", "content": "What is the capital of Italy?"})
        gen = eng.chat(messages, GREEDY)
        events = list(gen)
        trimmed = [e for e in events if isinstance(e, ContextTrimmed)]
        assert len(trimmed) == 1 and trimmed[0].dropped_messages > 20
        outcome = events[-1]
        assert isinstance(outcome, Finished) and outcome.text
        assert outcome.stats.prompt_tokens < 512
        assert outcome.stats.dropped_messages == trimmed[0].dropped_messages


def test_a_message_larger_than_the_window_fails_clearly(smollm_path):
    with Engine() as eng:
        eng.load(smollm_path, LoadOptions(n_ctx=256)).result(60)
        outcome = eng.chat(ask("word " * 600), GREEDY).result(30)
        assert isinstance(outcome, Failed)
        assert "too long for the context window" in outcome.message
        assert isinstance(eng.chat(ask("Hi"), GREEDY).result(30), Finished)


def test_reply_cut_by_a_full_window_says_so(smollm_path):
    with Engine() as eng:
        eng.load(smollm_path, LoadOptions(n_ctx=256)).result(60)
        filler = "Some notes: " + "apples and pears, " * 45
        prompt = ask(filler + "\nNow write a long poem about the sea.", system="Obey exactly.")
        outcome = eng.chat(prompt, Sampling(temperature=0, seed=1)).result(60)
        assert isinstance(outcome, Finished)
        assert outcome.reason == CONTEXT
        assert outcome.stats.prompt_tokens + outcome.stats.generated_tokens == 256


def test_gemma_without_a_template_answers_through_the_fallback(gemma_path):
    with Engine() as eng:
        info = eng.load(gemma_path, LoadOptions(n_ctx=1024)).result(60)
        assert info.chat_format.name == "gemma"
        assert any("no chat template" in note for note in info.notes)
        out = eng.chat(ask("What is the capital of France?"), GREEDY).result(60)
        assert isinstance(out, Finished) and out.text.strip()


def test_split_model_loads_and_answers(sharded_path):
    with Engine() as eng:
        info = eng.load(sharded_path, LoadOptions(n_ctx=1024)).result(60)
        assert info.size_bytes > 90_000_000  # both shards
        out = eng.chat(ask("What is the capital of France?"), GREEDY).result(60)
        assert "Paris" in out.text


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "is empty"),
        ("truncated", "is truncated"),
        ("wrong_magic", "not a GGUF"),
        ("text", "not a GGUF model (a text file"),
    ],
)
def test_broken_files_are_refused_and_the_engine_stays_usable(broken, smollm_path, name, message):
    with Engine() as eng:
        with pytest.raises(EngineError, match=message.replace("(", r"\(")):
            eng.load(broken[name]).result(30)
        assert eng.info is None
        eng.load(smollm_path, LoadOptions(n_ctx=512)).result(60)
        assert isinstance(eng.chat(ask("Hi"), GREEDY).result(30), Finished)


def test_n_ctx_is_clamped_and_rounded(smollm_path):
    with Engine() as eng:
        assert eng.load(smollm_path, LoadOptions(n_ctx=1000)).result(60).n_ctx == 768
        info = eng.load(smollm_path, LoadOptions(n_ctx=100_000)).result(60)
        assert info.n_ctx == 8192 and any("training context" in n for n in info.notes)


def test_closing_frees_the_model_and_later_calls_fail_cleanly(smollm_path):
    with Engine() as fresh:
        outcome = fresh.chat(ask("Hi"), GREEDY).result(30)
        assert isinstance(outcome, Failed) and "no model is loaded" in outcome.message
    eng = Engine()
    eng.load(smollm_path, LoadOptions(n_ctx=512)).result(60)
    eng.close()
    assert eng.info is None
    outcome = eng.chat(ask("Hi"), GREEDY).result(5)
    assert isinstance(outcome, Failed) and "closed" in outcome.message
    with pytest.raises(EngineError, match="closed"):
        eng.count_tokens(ask("Hi")).result(5)
    eng.close()  # a second close is harmless


def test_plain_completion(engine):
    out = engine.complete("Hello, World!", Sampling(max_tokens=50, seed=3)).result(60)
    assert isinstance(out, Finished) and out.text and out.stats.generated_tokens <= 50


def test_unknown_chat_format_is_refused(smollm_path):
    with Engine() as eng, pytest.raises(EngineError, match="unknown chat format"):
        eng.load(smollm_path, LoadOptions(chat_format="klingon")).result(30)


def test_chat_format_override_is_used(smollm_path):
    with Engine() as eng:
        info = eng.load(smollm_path, LoadOptions(n_ctx=512, chat_format="chatml")).result(60)
        assert info.chat_format.name == "chatml"
        assert eng.chat(ask("Hi"), GREEDY).result(30).text
