"""A conversation is a tree in the store (issue 14): versions, the branch shown, deleting
a branch, forking, the migration from gguf-tui 0.1, and JSON export/import of the tree."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from gguf_tui.store.database import Store
from gguf_tui.store.errors import StoreError
from gguf_tui.store.export import export_text, exported, import_conversations
from gguf_tui.store.history import HistoryError

RELEASE_DB = Path(__file__).parent / "fixtures" / "release-0.1.sqlite3"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "db.sqlite3") as s:
        yield s


def texts(messages) -> list[str]:
    return [m.content for m in messages]


def three_answers(store: Store):
    """Hi → three versions of the answer (the last shown)."""
    conv = store.create_conversation()
    hi = store.add_message(conv.id, "user", "Hi")
    answers = [
        store.add_message(conv.id, "assistant", f"Answer {n}", parent_id=hi.id) for n in (1, 2, 3)
    ]
    return conv, hi, answers


def test_versions_are_siblings_and_the_newest_is_shown(store):
    conv, _hi, answers = three_answers(store)
    assert texts(store.messages(conv.id)) == ["Hi", "Answer 3"]
    assert store.siblings(answers[0].id) == [a.id for a in answers]
    assert store.versions(conv.id) == {a.id: (n, 3) for n, a in enumerate(answers, 1)}
    assert store.message_count(conv.id) == 4  # every version counts: nothing was deleted


def test_showing_a_version_shows_its_branch_down_to_its_newest_message(store):
    conv, _hi, answers = three_answers(store)
    store.add_message(conv.id, "user", "More", parent_id=answers[0].id)
    deep = store.add_message(conv.id, "assistant", "Deeper")
    assert store.show_branch(answers[0].id) == deep.id
    assert texts(store.messages(conv.id)) == ["Hi", "Answer 1", "More", "Deeper"]
    # A new message follows the branch shown.
    store.show_branch(answers[1].id)
    after = store.add_message(conv.id, "user", "On two")
    assert after.parent_id == answers[1].id
    assert texts(store.messages(conv.id)) == ["Hi", "Answer 2", "On two"]
    # The whole way down to any message, whatever is shown.
    assert texts(store.branch_to(deep.id)) == ["Hi", "Answer 1", "More", "Deeper"]


def test_paging_up_walks_the_branch_shown(store):
    conv = store.create_conversation()
    for n in range(10):
        store.add_message(conv.id, "user" if n % 2 == 0 else "assistant", f"m{n}")
    side = store.add_message(conv.id, "assistant", "side", parent_id=store.messages(conv.id)[6].id)
    assert texts(store.messages(conv.id)) == [f"m{n}" for n in range(7)] + ["side"]
    last_page = store.messages(conv.id, limit=3)
    assert texts(last_page) == ["m5", "m6", "side"]
    older = store.messages(conv.id, before_id=last_page[0].id, limit=3)
    assert texts(older) == ["m2", "m3", "m4"]
    assert side.parent_id == last_page[1].id


def test_deleting_a_version_deletes_what_follows_it_and_shows_a_sibling(store):
    conv, _hi, answers = three_answers(store)
    store.add_message(conv.id, "user", "Follow-up")
    assert store.branch_size(answers[2].id) == 2
    store.delete_branch(answers[2].id)
    assert texts(store.messages(conv.id)) == ["Hi", "Answer 2"]
    assert store.siblings(answers[0].id) == [answers[0].id, answers[1].id]
    store.delete_branch(answers[1].id)
    store.delete_branch(answers[0].id)
    assert texts(store.messages(conv.id)) == ["Hi"]  # the question stays
    assert store.message_count(conv.id) == 1
    assert store.list_conversations(query="Follow") == []  # its words left the index too


def test_deleting_another_branch_keeps_the_one_shown(store):
    conv, _hi, answers = three_answers(store)
    store.delete_branch(answers[0].id)
    assert texts(store.messages(conv.id)) == ["Hi", "Answer 3"]


def test_a_parent_from_another_conversation_is_refused(store):
    _conv, hi, _ = three_answers(store)
    other = store.create_conversation()
    with pytest.raises(StoreError, match="not in conversation"):
        store.add_message(other.id, "user", "x", parent_id=hi.id)


def test_fork_copies_the_branch_down_to_a_message(store):
    conv, _hi, answers = three_answers(store)
    store.rename_conversation(conv.id, "Origin")
    store.show_branch(answers[0].id)
    forked = store.fork(answers[1].id)
    assert forked.id != conv.id and forked.title == "Origin (fork)"
    assert texts(store.messages(forked.id)) == ["Hi", "Answer 2"]
    assert store.versions(forked.id) == {}  # one branch: the copy goes its own way
    assert texts(store.messages(conv.id)) == ["Hi", "Answer 1"]  # the origin is untouched


# -- gguf-tui 0.1's database -------------------------------------------------------------


def test_a_database_written_by_release_0_1_migrates_losing_nothing(tmp_path):
    """tests/fixtures/release-0.1.sqlite3 was written by gguf-tui 0.1's own store
    (schema 2): every conversation becomes one branch, in the order it was written."""
    path = tmp_path / "conversations.sqlite3"
    shutil.copy(RELEASE_DB, path)
    before = sqlite3.connect(path)
    rows_before = before.execute(
        "SELECT id, conversation_id, role, content, reasoning, created_at, model_file, quant,"
        " stats, finish_reason FROM messages ORDER BY id"
    ).fetchall()
    conversations_before = before.execute(
        "SELECT id, title, model_file, quant, message_count, settings FROM conversations"
    ).fetchall()
    assert before.execute("PRAGMA user_version").fetchone()[0] == 2
    before.close()

    with Store(path) as store:
        for cid, *_ in conversations_before:
            ids = [r[0] for r in rows_before if r[1] == cid]
            shown = store.messages(cid)
            assert [m.id for m in shown] == ids  # the whole conversation, as one branch
            assert [m.parent_id for m in shown] == [None, *ids[:-1]]
            assert store.versions(cid) == {}
        assert [c.id for c in store.list_conversations(query="quantization")] == [1]
        # A new message follows the last one, and regenerating adds a version.
        store.add_message(1, "assistant", "Another answer", parent_id=rows_before[4][0])
        assert len(store.siblings(rows_before[5][0])) == 2
    after = sqlite3.connect(path)
    assert after.execute("PRAGMA user_version").fetchone()[0] == 3
    assert (
        after.execute(
            "SELECT id, conversation_id, role, content, reasoning, created_at, model_file, quant,"
            " stats, finish_reason FROM messages WHERE id <= ? ORDER BY id",
            (rows_before[-1][0],),
        ).fetchall()
        == rows_before
    )
    assert after.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert after.execute("PRAGMA foreign_key_check").fetchall() == []
    after.close()


# -- JSON export and import of the tree ---------------------------------------------------


def tree(store: Store) -> int:
    conv = store.create_conversation("Tree", settings={"temperature": 0.2})
    q = store.add_message(conv.id, "user", "Question")
    first = store.add_message(
        conv.id,
        "assistant",
        "First",
        model_file="m-Q8_0.gguf",
        quant="Q8_0",
        stats={"seed": 1},
        finish_reason="stop",
    )
    store.add_message(conv.id, "user", "Follow-up")
    store.add_message(conv.id, "assistant", "On first", finish_reason="stop")
    store.add_message(
        conv.id, "assistant", "Second", parent_id=q.id, model_file="m-Q4_K_M.gguf", quant="Q4_K_M"
    )
    store.add_message(conv.id, "user", "Edited question", parent_id=None)
    store.show_branch(first.id)
    return conv.id


def comparable(data: dict) -> dict:
    """What must survive an export and an import: all but the database's own ids and the
    conversation's last-changed time (an import is a change)."""
    return {k: v for k, v in data.items() if k not in ("id", "updated")}


def test_a_json_export_imported_back_is_identical(store, tmp_path):
    cid = tree(store)
    first = exported(store, store.get_conversation(cid))
    assert first["version"] == 2 and len(first["messages"]) == 6
    assert [m["parent"] for m in first["messages"]] == [None, 1, 2, 3, 1, None]
    assert first["shown"] == 4  # the branch shown ends at "On first"
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(first), encoding="utf-8")
    (back,) = import_conversations(store, path)
    again = exported(store, back)
    assert comparable(again) == comparable(first)
    assert texts(store.messages(back.id)) == ["Question", "First", "Follow-up", "On first"]


def test_markdown_and_history_exports_hold_the_branch_shown(store):
    cid = tree(store)
    conv = store.get_conversation(cid)
    history = json.loads(export_text(store, conv, "history"))
    assert [m["content"] for m in history] == ["Question", "First", "Follow-up", "On first"]
    markdown = export_text(store, conv, "md")
    assert "On first" in markdown and "Second" not in markdown and "Edited" not in markdown


def test_a_version_1_export_imports_as_one_branch(store, tmp_path):
    data = {
        "format": "gguf-tui-conversation",
        "version": 1,
        "title": "Old",
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ],
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    (conv,) = import_conversations(store, path)
    messages = store.messages(conv.id)
    assert texts(messages) == ["a", "b", "c"]
    assert [m.parent_id for m in messages] == [None, messages[0].id, messages[1].id]


@pytest.mark.parametrize(
    ("messages", "shown", "said"),
    [
        ([{"id": 1, "parent": 2, "role": "user", "content": "x"}], None, "does not come before"),
        ([{"id": 1, "role": "user", "content": "x"}] * 2, None, "no other message has"),
        ([{"id": "one", "role": "user", "content": "x"}], None, "should be a message number"),
        ([{"id": 1, "parent": True, "role": "user", "content": "x"}], None, "message number"),
        ([{"id": 1, "role": "user", "content": "x"}], 9, "'shown' names message 9"),
    ],
)
def test_a_broken_tree_in_a_file_is_one_clear_message_and_imports_nothing(
    store, tmp_path, messages, shown, said
):
    data = {"format": "gguf-tui-conversation", "version": 2, "messages": messages}
    if shown is not None:
        data["shown"] = shown
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(HistoryError, match=said):
        import_conversations(store, path)
    assert store.list_conversations() == []


def test_the_conversation_names_the_model_that_wrote_the_version_shown(store):
    conv = store.create_conversation()
    hi = store.add_message(conv.id, "user", "Hi")
    first = store.add_message(
        conv.id, "assistant", "A", model_file="m-Q8_0.gguf", quant="Q8_0", parent_id=hi.id
    )
    store.add_message(
        conv.id, "assistant", "B", model_file="m-Q4_K_M.gguf", quant="Q4_K_M", parent_id=hi.id
    )
    assert store.get_conversation(conv.id).quant == "Q4_K_M"
    store.show_branch(first.id)  # the sidebar and ctrl+l follow the version shown
    shown = store.get_conversation(conv.id)
    assert (shown.model_file, shown.quant) == ("m-Q8_0.gguf", "Q8_0")
