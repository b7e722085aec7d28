"""The chat screen, driven headlessly with Pilot on the real SmolLM2 model."""

from __future__ import annotations

import json

from gguf_tui.engine import Sampling
from gguf_tui.store.database import Store
from gguf_tui.tui.widgets.messages import AssistantMessage, UserMessage
from gguf_tui.tui.widgets.sidebar import Sidebar
from tests.support.tui import make_app, screen_text, type_and_send, wait_idle, wait_until

LONG = Sampling(temperature=0.8, seed=5, max_tokens=1500)


def db_messages(app, cid=None):
    store = app.store
    cid = cid or app.chat_screen.conversation_id
    return store.messages(cid)


async def test_an_answer_streams_into_the_view_and_the_database(engine, tmp_path, monkeypatch):
    chunks: list[str] = []
    original = AssistantMessage.append_text

    async def recording(self, chunk):
        chunks.append(chunk)
        await original(self, chunk)

    monkeypatch.setattr(AssistantMessage, "append_text", recording)
    app = make_app(
        tmp_path, engine=engine, sampling=Sampling(temperature=0.7, seed=3, max_tokens=120)
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Tell me about the moon in a few sentences.")
        screen = app.chat_screen
        await wait_idle(pilot)
        widget = screen.view.query(AssistantMessage).last()
        assert len(chunks) > 3, "the answer should appear piece by piece"
        assert "".join(chunks) == widget.text
        messages = db_messages(app)
        assert [m.role for m in messages] == ["user", "assistant"]
        answer = messages[1]
        assert answer.content and answer.content == widget.text
        assert answer.finish_reason in ("stop", "length")
        assert answer.model_file == "SmolLM2-135M-Instruct-Q4_1.gguf" and answer.quant == "Q4_1"
        assert answer.stats["generated_tokens"] > 0
        seen = screen_text(app)
        assert "tok/s" in seen and "Q4_1" in seen
        assert answer.content.split()[0] in seen
        assert len(app.chat_screen.sidebar.ids) == 1


async def test_escape_stops_and_keeps_the_partial_answer(engine, tmp_path):
    app = make_app(tmp_path, engine=engine, sampling=LONG)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Write a very long story about a lighthouse keeper.")
        screen = app.chat_screen
        await wait_until(
            pilot, lambda: screen.reply and len(screen.reply.widget.text) > 40, what="some text"
        )
        await pilot.press("escape")
        await wait_idle(pilot)
        answer = db_messages(app)[-1]
        assert answer.finish_reason == "stopped" and len(answer.content) > 40
        assert answer.stats["generated_tokens"] < 1500
        assert "stopped" in screen_text(app)


async def test_regenerate_replaces_the_last_answer(engine, tmp_path):
    app = make_app(
        tmp_path, engine=engine, sampling=Sampling(temperature=1.0, seed=1, max_tokens=30)
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Invent a name for a dragon.")
        await wait_idle(pilot)
        first = db_messages(app)[-1]
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: db_messages(app)[-1].id != first.id)
        await wait_idle(pilot)
        messages = db_messages(app)
        assert [m.role for m in messages] == ["user", "assistant"]
        assert messages[-1].id != first.id
        assert len(app.chat_screen.view.query(AssistantMessage)) == 1


async def test_up_in_an_empty_prompt_edits_and_resends(engine, tmp_path):
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "What is the capital of Frnace?")
        await wait_idle(pilot)
        prompt = app.chat_screen.prompt
        prompt.focus()
        await pilot.press("up")
        assert prompt.text == "What is the capital of Frnace?"
        prompt.text = "What is the capital of France?"
        await pilot.press("enter")
        await wait_until(pilot, lambda: db_messages(app)[0].content.endswith("France?"))
        await wait_idle(pilot)
        messages = db_messages(app)
        assert [m.content for m in messages if m.role == "user"] == [
            "What is the capital of France?"
        ]
        assert len(messages) == 2 and "Paris" in messages[1].content
        users = [w.message.content for w in app.chat_screen.view.query(UserMessage)]
        assert users == ["What is the capital of France?"]


async def test_new_chats_and_moving_between_them(engine, tmp_path):
    app = make_app(tmp_path, engine=engine, sampling=Sampling(temperature=0, seed=1, max_tokens=8))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.chat_screen
        ids = []
        for topic in ("apples", "bridges", "comets"):
            await pilot.press("ctrl+n")
            await type_and_send(pilot, f"One word about {topic}.")
            await wait_idle(pilot)
            ids.append(screen.conversation_id)
        assert len(set(ids)) == 3
        assert screen.sidebar.ids == ids[::-1]  # newest first
        await pilot.press("ctrl+down")
        await wait_until(pilot, lambda: screen.conversation_id == ids[1])
        assert "bridges" in screen_text(app)
        await pilot.press("alt+down")
        await wait_until(pilot, lambda: screen.conversation_id == ids[0])
        await pilot.press("ctrl+up")
        await wait_until(pilot, lambda: screen.conversation_id == ids[1])
        assert [w.message.content for w in screen.view.query(UserMessage)] == [
            "One word about bridges."
        ]


async def test_rename_delete_and_search(engine, tmp_path):
    app = make_app(tmp_path, engine=engine, sampling=Sampling(temperature=0, seed=1, max_tokens=8))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.chat_screen
        await type_and_send(pilot, "Tell me about zebras.")
        await wait_idle(pilot)
        zebra = screen.conversation_id
        await pilot.press("ctrl+n")
        await type_and_send(pilot, "Tell me about volcanoes.")
        await wait_idle(pilot)
        volcano = screen.conversation_id

        await pilot.press("f2")
        rename = app.screen.query_one("#answer")
        rename.value = "Volcano notes"
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: app.store.get_conversation(volcano).title == "Volcano notes"
        )
        assert "Volcano notes" in screen_text(app)

        await pilot.press("ctrl+f")
        for ch in "zebra":
            await pilot.press(ch)
        await wait_until(pilot, lambda: screen.sidebar.ids == [zebra], what="search results")
        assert "1 match" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(screen.sidebar.ids) == 2)

        option_list = screen.sidebar.option_list
        option_list.focus()
        option_list.highlighted = screen.sidebar.ids.index(zebra)
        await pilot.press("delete")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.store.get_conversation(zebra) is None)
        assert screen.sidebar.ids == [volcano]


async def test_export_and_import_round_trip(engine, tmp_path):
    app = make_app(tmp_path / "data", engine=engine)
    target = tmp_path / "out" / "chat.json"
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.chat_screen
        await type_and_send(pilot, "What is the capital of France?")
        await wait_idle(pilot)
        original = db_messages(app)
        await pilot.press("ctrl+e")
        dialog = app.screen
        await pilot.click("RadioButton", offset=(2, 0))  # Markdown -> pick the history format
        dialog.query("RadioButton")[2].value = True
        dialog.query_one("#path").value = str(target)
        dialog.query_one("#path").focus()
        await pilot.press("enter")
        await wait_until(pilot, target.exists, what="the export file")
        history = json.loads(target.read_text(encoding="utf-8"))
        assert [(m["role"], m["content"]) for m in history] == [
            (m.role, m.content) for m in original
        ]

        new_id = app.import_history(target)
        await screen.open_conversation(new_id)
        imported = app.store.messages(new_id)
        assert [(m.role, m.content) for m in imported] == [(m.role, m.content) for m in original]
        assert screen.sidebar.ids[screen.sidebar.option_list.highlighted] == new_id


async def test_markup_in_a_user_message_is_shown_literally(engine, tmp_path):
    app = make_app(tmp_path, engine=engine, sampling=Sampling(temperature=0, seed=1, max_tokens=5))
    async with app.run_test(size=(120, 40)) as pilot:
        text = "Is [bold]this[/bold] [link=https://x.y]a link[/link] or \x1b[31mred\x1b[0m?"
        await type_and_send(pilot, text)
        await wait_idle(pilot)
        seen = screen_text(app)
        assert "[bold]this[/bold] [link=https://x.y]a link[/link]" in seen
        assert "␛[31mred␛[0m" in seen
        assert db_messages(app)[0].content == text  # stored exactly as typed


async def test_sidebar_lists_saved_conversations_at_start(engine, tmp_path):
    store = Store(tmp_path / "conversations.sqlite3")
    for i in range(3):
        conv = store.create_conversation()
        store.add_message(conv.id, "user", f"Question number {i}")
    store.close()
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        sidebar = app.chat_screen.query_one(Sidebar)
        await wait_until(pilot, lambda: len(sidebar.ids) == 3)
        assert "Question number 2" in screen_text(app)
        assert "3 conversations" in screen_text(app)
