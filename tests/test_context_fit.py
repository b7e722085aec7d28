import pytest

from gguf_tui.engine.local.context import ContextOverflowError, fit_messages, reply_reserve


def words(messages):
    """A stand-in tokenizer: one token per word plus 2 per message."""
    return [0] * sum(len(m["content"].split()) + 2 for m in messages)


def convo(n_turns, words_per_message=10):
    msgs = [{"role": "system", "content": "be brief"}]
    for i in range(n_turns):
        msgs.append({"role": "user", "content": f"q{i} " + "w " * words_per_message})
        msgs.append({"role": "assistant", "content": f"a{i} " + "w " * words_per_message})
    msgs.append({"role": "user", "content": "the newest question"})
    return msgs


def test_everything_fits():
    msgs = convo(3)
    fitted = fit_messages(msgs, words, n_ctx=1000, reserve=100)
    assert fitted.dropped == 0 and fitted.messages == msgs


def test_oldest_turns_go_first_and_system_stays():
    msgs = convo(50)
    fitted = fit_messages(msgs, words, n_ctx=200, reserve=50)
    assert len(fitted.tokens) <= 150
    assert fitted.messages[0]["role"] == "system"
    assert fitted.messages[1]["role"] == "user"  # roles still alternate
    assert fitted.messages[-1]["content"] == "the newest question"
    assert fitted.dropped == len(msgs) - len(fitted.messages)
    # As much as fits is kept: one more turn would not fit.
    one_more = msgs[:1] + msgs[len(msgs) - len(fitted.messages) - 1 :]
    assert len(words(one_more)) > 150 or fitted.dropped == 0


def test_newest_message_alone_when_nothing_else_fits():
    msgs = convo(2, words_per_message=100)
    fitted = fit_messages(msgs, words, n_ctx=120, reserve=60)
    assert [m["content"] for m in fitted.messages] == ["be brief", "the newest question"]


def test_a_message_larger_than_the_window_is_a_clear_error():
    msgs = [{"role": "user", "content": "w " * 500}]
    with pytest.raises(ContextOverflowError, match="too long for the context window"):
        fit_messages(msgs, words, n_ctx=256, reserve=10)


def test_reply_reserve_is_bounded():
    assert reply_reserve(4096, None) == 1024
    assert reply_reserve(4096, 100) == 100
    assert reply_reserve(512, 100000) == 256
