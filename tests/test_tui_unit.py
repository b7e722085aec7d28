"""UI behaviour with a scripted engine (tests/support/fake_engine.py): fast and exact."""

from __future__ import annotations

from textual.widgets import Collapsible

from gguf_tui.store.database import Store
from gguf_tui.tui.widgets.conversation import MAX_MOUNTED, PAGE
from gguf_tui.tui.widgets.messages import AssistantMessage
from tests.support.fake_engine import FakeEngine
from tests.support.tui import (
    make_app,
    notifications,
    screen_text,
    type_and_send,
    wait_idle,
    wait_until,
)


async def test_reasoning_streams_into_a_section_that_folds_when_the_answer_starts(tmp_path):
    engine = FakeEngine(
        reasoning=["The user ", "asks 2+2."], script=["It ", "is ", "4."], delay=0.3
    )
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "What is 2+2?")
        screen = app.chat_screen
        await wait_until(
            pilot, lambda: screen.reply and screen.reply.widget.reasoning, what="reasoning"
        )
        collapsible = screen.reply.widget.query_one(Collapsible)
        assert collapsible.display and not collapsible.collapsed
        await wait_idle(pilot)
        widget = screen.view.query(AssistantMessage).last()
        assert widget.query_one(Collapsible).collapsed
        saved = app.store.messages(screen.conversation_id)[-1]
        assert (saved.content, saved.reasoning) == ("It is 4.", "The user asks 2+2.")


async def test_model_output_with_markup_and_escapes_is_shown_literally(tmp_path):
    engine = FakeEngine(
        script=[
            "[bold]loud[/] ",
            "[link=https://evil.example]click[/link] ",
            "\x1b]8;;https://x\x07osc\x1b]8;;\x07 ",
            "\x1b[31mred\x1b[0m",
            " é\u0301 👍🏽",
        ]
    )
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "go")
        await wait_idle(pilot)
        seen = screen_text(app)
        assert "[bold]loud[/] [link=https://evil.example]click[/link]" in seen
        assert "␛[31mred␛[0m" in seen and "␛]8;;https://x␇osc" in seen
        saved = app.store.messages(app.chat_screen.conversation_id)[-1].content
        assert saved.startswith("[bold]loud[/]") and "\x1b[31m" in saved  # stored as written


async def test_a_failed_answer_leaves_no_empty_message(tmp_path):
    engine = FakeEngine(script=[], fail_with="the model crashed")
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "hello?")
        await wait_idle(pilot)
        messages = app.store.messages(app.chat_screen.conversation_id)
        assert [m.role for m in messages] == ["user"]
        assert not app.chat_screen.view.query(AssistantMessage)


async def test_nothing_is_sent_without_a_model_and_the_text_is_kept(tmp_path):
    engine = FakeEngine()
    engine.info = None
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        # With no model chosen the app opens on the model picker; leave it.
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ModelPicker")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")
        await type_and_send(pilot, "keep me")
        await pilot.pause(0.1)
        assert app.chat_screen.prompt.text == "keep me"
        assert app.store.count_conversations() == 0
        assert "No model is loaded" in notifications(app)


async def test_a_long_conversation_mounts_a_bounded_number_of_messages(tmp_path):
    store = Store(tmp_path / "conversations.sqlite3")
    conv = store.create_conversation(title="long")
    for i in range(1000):
        store.add_message(conv.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    store.close()
    app = make_app(tmp_path, engine=FakeEngine(), open_conversation=conv.id)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.chat_screen.view
        await wait_until(pilot, lambda: len(view.message_widgets) == PAGE)
        assert view.message_widgets[-1].message.content == "message 999"
        view.scroll_home(animate=False)
        await wait_until(
            pilot,
            lambda: len(view.message_widgets) == 2 * PAGE,
            what="older messages to load on scroll-up",
        )
        assert view.message_widgets[0].message.content == f"message {1000 - 2 * PAGE}"
        view.scroll_end(animate=False)
        for i in range(3):
            await type_and_send(pilot, f"more {i}")
            await wait_idle(pilot)
        assert len(view.message_widgets) <= MAX_MOUNTED


async def test_escape_in_search_closes_it_and_help_lists_bindings(tmp_path):
    app = make_app(tmp_path, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        text = screen_text(app)
        for key in ("ctrl+n", "ctrl+r", "escape", "ctrl+o", "f2"):
            assert key in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")


async def test_keys_can_be_remapped_in_the_config(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text('[keymap]\nnew_chat = "ctrl+t"\n')
    monkeypatch.setenv("GGUF_TUI_CONFIG_DIR", str(config))
    app = make_app(tmp_path, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "first")
        await wait_idle(pilot)
        first = app.chat_screen.conversation_id
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: app.chat_screen.conversation_id is None)
        assert first is not None


async def test_quit_while_generating_saves_the_partial_answer(tmp_path):
    engine = FakeEngine(script=[f"word{i} " for i in range(400)], delay=0.01)
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "talk")
        screen = app.chat_screen
        await wait_until(pilot, lambda: screen.reply and len(screen.reply.widget.text) > 20)
        cid = screen.conversation_id
        await pilot.press("ctrl+q")
    store = Store(tmp_path / "conversations.sqlite3")
    answer = store.messages(cid)[-1]
    assert answer.finish_reason == "stopped" and answer.content.startswith("word0 word1")
    store.close()


async def test_only_web_links_in_answers_open(tmp_path):
    from textual.widgets import Markdown

    engine = FakeEngine(script=["See [notes](file:///etc/passwd) and [docs](https://example.org)."])
    app = make_app(tmp_path, engine=engine)
    opened: list[str] = []
    app.open_url = lambda url, **kw: opened.append(url)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "links please")
        await wait_idle(pilot)
        answer = app.chat_screen.view.query(AssistantMessage).last()
        markdown = answer.query_one(".answer", Markdown)
        for href in ("file:///etc/passwd", "javascript:alert(1)", "https://example.org"):
            markdown.post_message(Markdown.LinkClicked(markdown, href))
        await wait_until(pilot, lambda: opened == ["https://example.org"])
        assert "Not opening file:///etc/passwd" in notifications(app)
        assert "Not opening javascript:alert(1)" in notifications(app)


async def test_deleting_a_conversation_frees_its_kept_cache(tmp_path):
    engine = FakeEngine()
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "to be deleted")
        await wait_idle(pilot)
        cid = app.chat_screen.conversation_id
        app.chat_screen.delete_conversation(cid)
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.store.get_conversation(cid) is None)
        assert engine.forgotten == [cid]
