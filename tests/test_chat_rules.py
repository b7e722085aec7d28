"""The conversation rules (gguf_tui/chat), without the TUI."""

from __future__ import annotations

from gguf_tui.chat.context import (
    before_last_answer,
    model_messages,
    sampling_for,
    system_prompt_for,
    wanted_n_ctx,
)
from gguf_tui.engine import Sampling
from gguf_tui.store.records import Message


def msg(role: str, content: str, n: int = 0) -> Message:
    return Message(id=n, conversation_id=1, role=role, content=content)


def test_empty_answers_are_left_out_and_two_questions_become_one():
    saved = [
        msg("user", "first"),
        msg("assistant", ""),  # cut off by a crash before any text was saved
        msg("user", "second"),
        msg("assistant", "answer"),
    ]
    assert model_messages(saved, "Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first\n\nsecond"},
        {"role": "assistant", "content": "answer"},
    ]


def test_a_saved_system_message_is_not_doubled():
    saved = [msg("system", "Saved."), msg("user", "hi")]
    assert model_messages(saved, "App's.")[0] == {"role": "system", "content": "Saved."}
    assert len(model_messages(saved, "App's.")) == 2


def test_the_conversations_system_prompt_wins():
    assert system_prompt_for({"system_prompt": "Own."}, "App's.") == "Own."
    assert system_prompt_for({}, "App's.") == "App's."


def test_answer_again_sends_everything_before_the_last_answer():
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert before_last_answer(msgs) == msgs[:1]
    assert before_last_answer(msgs[:1]) == msgs[:1]


def test_overrides_apply_only_to_sampling_fields():
    base = Sampling(temperature=0.8, top_k=40)
    got = sampling_for(base, {"temperature": 0.1, "system_prompt": "x", "n_ctx": 1024})
    assert got.temperature == 0.1 and got.top_k == 40
    assert sampling_for(base, {}) is base


def test_a_reload_is_needed_only_for_another_context_size():
    assert wanted_n_ctx({"n_ctx": 2048}, loaded_n_ctx=4096, n_ctx_train=8192) == 2048
    assert wanted_n_ctx({"n_ctx": 2048}, loaded_n_ctx=2048, n_ctx_train=8192) is None
    assert wanted_n_ctx({}, loaded_n_ctx=4096, n_ctx_train=8192) is None
    assert wanted_n_ctx({"n_ctx": "big"}, loaded_n_ctx=4096, n_ctx_train=8192) is None
