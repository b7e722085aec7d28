"""Units behind copying, search hits and the answer line (the real-terminal tests are in
tests/terminal/test_copy.py, test_search.py, test_sidebar.py, test_message_lines.py)."""

from __future__ import annotations

import json

import pytest

from gguf_tui.store.database import Store
from gguf_tui.store.export import import_history_file
from gguf_tui.store.records import Message
from gguf_tui.store.search import first_match
from gguf_tui.tui.widgets.conversation import PAGE, ConversationView, code_blocks
from gguf_tui.tui.widgets.messages import stats_line
from tests.support.tui import make_app, wait_until

STATS = {"generated_tokens": 12, "time_to_first_token": 0.25, "generation_seconds": 0.5}


def test_code_blocks_fenced_tilde_and_indented_in_order():
    text = (
        "Intro\n\n```python\nprint(1)\n```\n\n~~~\nplain\n~~~\n\n    indented\n    code\n\n"
        "```js extra words\nlet x\n```"
    )
    blocks = code_blocks(text)
    assert [(b.language, b.code) for b in blocks] == [
        ("python", "print(1)"),
        ("", "plain"),
        ("", "indented\ncode"),
        ("js", "let x"),
    ]
    assert code_blocks("No code, only `inline` code.") == []


def _answer(content: str, stats: dict | None, reason: str | None) -> Message:
    return Message(
        1, 1, "assistant", content, model_file="m.gguf", stats=stats, finish_reason=reason
    )


def test_the_answer_line_says_what_happened_without_figures_of_nothing():
    nothing = {"generated_tokens": 0, "time_to_first_token": 0.0}
    assert stats_line(_answer("", nothing, "stopped")) == "m.gguf · stopped before the first token"
    assert "0 tok" not in stats_line(_answer("", nothing, "stop"))
    normal = stats_line(_answer("Hi", STATS, "stop"))
    assert normal == "m.gguf · 12 tok · 22.0 tok/s · first token 250 ms"
    assert stats_line(_answer("Half", STATS, None)).endswith(
        "interrupted: the app closed while this was written"
    )


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "db.sqlite3") as s:
        yield s


def test_first_match_prefers_a_message_with_every_word(store):
    conv = store.create_conversation()
    ids = [
        store.add_message(conv.id, "user", text).id
        for text in ("ferry times?", "The ferry leaves at nine.", "Zanzibar ferry at nine")
    ]
    assert first_match(store, conv.id, "ferry") == ids[0]
    assert first_match(store, conv.id, "zanzibar ferry") == ids[2]  # every word: that one
    assert first_match(store, conv.id, "zanzibar boat") == ids[2]  # else any word
    assert first_match(store, conv.id, "nin") == ids[1]  # the word being typed is a prefix
    assert first_match(store, conv.id, '"NEAR( *') is None  # no word in it: nothing
    other = store.create_conversation()
    store.add_message(other.id, "user", "unrelated")
    assert first_match(store, other.id, "ferry") is None


def test_imported_answers_are_complete_unless_the_file_says_otherwise(store, tmp_path):
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])
    )
    conv = import_history_file(store, history)
    assert [m.finish_reason for m in store.messages(conv.id)] == [None, "stop"]
    export = tmp_path / "export.json"
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},  # no finish_reason: complete
        {"role": "user", "content": "More"},
        {"role": "assistant", "content": "Cut", "finish_reason": None},  # ours: cut off
        {"role": "assistant", "content": "Long", "finish_reason": "length"},
    ]
    export.write_text(json.dumps({"format": "gguf-tui-conversation", "messages": messages}))
    conv = import_history_file(store, export)
    reasons = [m.finish_reason for m in store.messages(conv.id)]
    assert reasons == [None, "stop", None, None, "length"]


@pytest.mark.xfail(
    strict=False,
    reason="flaky (about 1 in 3 here): the first highlight on focus races the model picker "
    "closing; the keys themselves are covered by tests/terminal/test_copy.py",
)
async def test_up_in_the_conversation_moves_the_highlight_into_older_pages(tmp_path):
    app = make_app(tmp_path)
    with Store(app.paths.database) as seed:
        conv = seed.create_conversation()
        for n in range(PAGE + 10):
            seed.add_message(conv.id, "user", f"message {n}")
    async with app.run_test(size=(100, 30)) as pilot:
        # No model: the picker opens over the chat screen; close it.
        await wait_until(pilot, lambda: len(app.screen_stack) > 2, what="the model picker")
        while app.screen is not app.chat_screen:
            app.pop_screen()
            await pilot.pause()
        await app.chat_screen.open_conversation(conv.id)
        view = app.chat_screen.query_one(ConversationView)

        def focused_and_highlighted() -> bool:
            # Closing the picker hands the focus back a moment later: take it again.
            if not view.has_focus:
                view.focus()
            return view.highlighted is not None

        await wait_until(pilot, focused_and_highlighted, what="a highlight")
        assert view.highlighted.message.content == f"message {PAGE + 9}"  # the newest
        for _ in range(PAGE + 9):
            await pilot.press("up")
        await wait_until(
            pilot, lambda: view.highlighted.message.content == "message 0", what="the first"
        )
        view.copy_message()
        assert app.clipboard == "message 0"
        await pilot.press("down")
        assert view.highlighted.message.content == "message 1"
