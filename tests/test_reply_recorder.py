"""The recorder half of a reply (gguf_tui/chat/recorder.py), without the TUI: a real
SQLite store, a fake clock; what a crash, a failure or a locked database leave saved."""

from __future__ import annotations

import sqlite3

import pytest

from gguf_tui.chat.recorder import CHECKPOINT_SECONDS, RETRY_SECONDS, ReplyRecorder
from gguf_tui.engine.events import ContextTrimmed, Failed, Finished, GenerationStats
from gguf_tui.store.database import Store


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "chats.db", timeout=0.2) as s:
        yield s


def started(store: Store, clock: Clock, seed: int | None = 7):
    conv = store.create_conversation(model_file="m.gguf", quant="Q4_K_M")
    store.add_message(conv.id, "user", "hello")
    placeholder = store.add_message(conv.id, "assistant", "", model_file="m.gguf", quant="Q4_K_M")
    return conv.id, ReplyRecorder(placeholder, store, seed=seed, clock=clock)


def saved_answer(store: Store, cid: int):
    return store.messages(cid)[-1]


def test_the_growing_answer_is_checkpointed_twice_a_second_not_per_token(store):
    clock = Clock()
    cid, rec = started(store, clock)
    rec.add_text("Hel")
    rec.tick()
    assert saved_answer(store, cid).content == ""  # not yet due
    clock.now += CHECKPOINT_SECONDS
    rec.add_reasoning("thinking")
    rec.add_text("lo")
    rec.tick()
    answer = saved_answer(store, cid)
    assert (answer.content, answer.reasoning) == ("Hello", "thinking")
    assert answer.finish_reason is None  # a crash now leaves it marked interrupted


def test_the_end_writes_text_figures_reason_and_seed(store):
    clock = Clock()
    cid, rec = started(store, clock, seed=1234)
    rec.add_text("Hi")
    trimmed = ContextTrimmed(dropped_messages=2, prompt_tokens=90, n_ctx=128)
    rec.context_trimmed(trimmed)
    stats = GenerationStats(prompt_tokens=5, generated_tokens=2)
    outcome = rec.finish(Finished("stop", "Hi there", "why", stats))
    answer = saved_answer(store, cid)
    assert (answer.content, answer.reasoning, answer.finish_reason) == ("Hi there", "why", "stop")
    assert answer.stats["seed"] == 1234 and answer.stats["generated_tokens"] == 2
    assert outcome.saved and outcome.error is None and outcome.trimmed == trimmed
    assert outcome.message is not None and outcome.message.content == "Hi there"
    assert outcome.message.id == answer.id


def test_a_failure_keeps_what_was_written_as_stopped(store):
    cid, rec = started(store, Clock())
    rec.add_text("half an ans")
    outcome = rec.fail(Failed("the server went away"))
    answer = saved_answer(store, cid)
    assert (answer.content, answer.finish_reason) == ("half an ans", "stopped")
    assert outcome.error == "the server went away" and outcome.message is not None


def test_a_failure_before_the_first_token_leaves_no_answer(store):
    cid, rec = started(store, Clock())
    outcome = rec.fail(Failed("cannot answer"))
    assert [m.role for m in store.messages(cid)] == ["user"]
    assert outcome.message is None and outcome.error == "cannot answer"


def test_a_locked_database_is_reported_once_and_tried_again_later(store):
    clock = Clock()
    cid, rec = started(store, clock)
    other = sqlite3.connect(store.path, timeout=0.1)
    other.execute("BEGIN EXCLUSIVE")
    try:
        rec.add_text("kept on screen")
        clock.now += CHECKPOINT_SECONDS
        rec.tick()
        assert rec.save_error and rec.new_save_error
        rec.new_save_error = False  # the UI said it
        clock.now += CHECKPOINT_SECONDS  # not yet: a failed save waits longer
        rec.add_text(".")
        rec.tick()
        assert not rec.new_save_error  # still failing, not said again
    finally:
        other.rollback()
        other.close()
    clock.now += RETRY_SECONDS
    rec.tick()
    assert rec.save_error is None
    assert saved_answer(store, cid).content == "kept on screen."


def test_without_a_store_nothing_is_written_and_the_outcome_is_the_same(store):
    clock = Clock()
    cid, rec = started(store, clock)
    unsaved = ReplyRecorder(rec.placeholder, store=None, seed=5, clock=clock)
    unsaved.add_text("x")
    clock.now += CHECKPOINT_SECONDS
    unsaved.tick()
    outcome = unsaved.finish(Finished("stop", "x", stats=GenerationStats(generated_tokens=1)))
    assert outcome.saved and outcome.message.stats["seed"] == 5
    assert saved_answer(store, cid).content == ""


def continued(store: Store, clock: Clock):
    """An answer that was stopped, and a recorder that continues it."""
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "count")
    answer = store.add_message(
        conv.id,
        "assistant",
        "one two",
        model_file="m.gguf",
        quant="Q4_K_M",
        finish_reason="stopped",
        stats={"seed": 3},
    )
    return conv.id, ReplyRecorder(answer, store, seed=3, clock=clock, continuing=True)


def test_a_continued_answer_is_saved_as_one_answer(store):
    clock = Clock()
    cid, recorder = continued(store, clock)
    recorder.add_text(" three")
    clock.now += CHECKPOINT_SECONDS
    recorder.tick()
    assert saved_answer(store, cid).content == "one two three"  # checkpoints hold it all
    outcome = recorder.finish(Finished("stop", " three four", "", GenerationStats()))
    answer = saved_answer(store, cid)
    assert answer.content == "one two three four" and answer.finish_reason == "stop"
    assert answer.stats["continued"] == 1 and outcome.message == answer
    assert len(store.messages(cid)) == 2  # the same answer, not another one


def test_a_continuation_that_fails_at_once_leaves_the_answer_as_it_was(store):
    clock = Clock()
    cid, recorder = continued(store, clock)
    outcome = recorder.fail(Failed("the server went away"))
    answer = saved_answer(store, cid)
    assert (answer.content, answer.finish_reason) == ("one two", "stopped")
    assert outcome.message is not None and outcome.error == "the server went away"


def test_an_answer_saved_in_a_hurry_is_marked_stopped(store):
    clock = Clock()
    cid, recorder = started(store, clock)
    recorder.save_stopped()  # nothing written yet: it stays "interrupted"
    assert saved_answer(store, cid).finish_reason is None
    recorder.add_text("half an answ")
    recorder.save_stopped()
    answer = saved_answer(store, cid)
    assert (answer.content, answer.finish_reason) == ("half an answ", "stopped")
