"""Replacing the loaded model: quantization switches, cancelled and failed loads."""

from __future__ import annotations

import pytest

from gguf_tui.engine import Engine, EngineError, Finished, LoadCancelled, LoadOptions, Sampling

GREEDY = Sampling(temperature=0, seed=1, max_tokens=20)
ASK = [{"role": "user", "content": "What is the capital of France?"}]


def test_switching_quantizations_keeps_answering(ladder):
    with Engine() as eng:
        assert eng.load(ladder["Q4_K_M"], LoadOptions(n_ctx=1024)).result(60).quant == "Q4_K_M"
        first = eng.chat(ASK, GREEDY).result(60)
        assert eng.load(ladder["Q8_0"], LoadOptions(n_ctx=1024)).result(60).quant == "Q8_0"
        second = eng.chat(ASK, GREEDY).result(60)
        assert isinstance(first, Finished) and isinstance(second, Finished)
        assert first.text and second.text


def test_a_cancelled_switch_keeps_the_old_model(ladder):
    with Engine() as eng:
        eng.load(ladder["Q4_K_M"], LoadOptions(n_ctx=1024)).result(60)
        with pytest.raises(LoadCancelled):
            eng.load(ladder["Q8_0"], LoadOptions(n_ctx=1024), progress=lambda f: False).result(60)
        assert eng.info is not None and eng.info.quant == "Q4_K_M"
        assert isinstance(eng.chat(ASK, GREEDY).result(60), Finished)


def test_a_failed_switch_keeps_the_old_model(ladder, broken):
    with Engine() as eng:
        eng.load(ladder["Q4_K_M"], LoadOptions(n_ctx=1024)).result(60)
        with pytest.raises(EngineError, match="truncated"):
            eng.load(broken["truncated"]).result(60)
        assert eng.info.quant == "Q4_K_M"
        assert isinstance(eng.chat(ASK, GREEDY).result(60), Finished)


def test_prefill_reads_the_conversation_ahead_of_the_next_answer(ladder):
    conversation = [{"role": "system", "content": "You are a helpful assistant."}]
    for i in range(6):
        conversation += [
            {"role": "user", "content": f"Tell me fact number {i} about owls."},
            {
                "role": "assistant",
                "content": f"Owl fact {i}: owls can rotate "
                "their heads a long way and hunt at night. " * 3,
            },
        ]
    with Engine() as eng:
        eng.load(ladder["Q8_0"], LoadOptions(n_ctx=2048)).result(60)
        evaluated = eng.prefill(conversation).result(60)
        assert evaluated > 200
        nxt = eng.chat([*conversation, {"role": "user", "content": "One more?"}], GREEDY).result(60)
        # Only the new turn is read: the conversation was already in the KV cache.
        assert nxt.stats.prompt_tokens_evaluated < 40 < nxt.stats.prompt_tokens
