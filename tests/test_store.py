"""The conversation database on real SQLite files: what is kept, found, paged and refused."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from gguf_tui.store import schema
from gguf_tui.store.database import Store, StoreError
from gguf_tui.store.records import title_from_text

STATS = {"generated_tokens": 42, "generation_tokens_per_second": 31.5, "time_to_first_token": 0.2}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "conversations.sqlite3"


@pytest.fixture
def store(db_path):
    with Store(db_path) as s:
        yield s


def chat(store: Store, *turns: str, title: str = ""):
    """A conversation of alternating user/assistant turns."""
    conv = store.create_conversation(title)
    for i, text in enumerate(turns):
        store.add_message(conv.id, "user" if i % 2 == 0 else "assistant", text)
    return conv


def found(store: Store, query: str) -> set[int]:
    return {c.id for c in store.list_conversations(query=query)}


def fts_integrity(conn: sqlite3.Connection) -> None:
    """Raises if an FTS index no longer matches the rows it indexes."""
    conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
    conn.execute(
        "INSERT INTO conversations_fts(conversations_fts, rank) VALUES ('integrity-check', 1)"
    )


# --- what is kept ---------------------------------------------------------------------------


def test_messages_survive_reopen_with_everything_they_carry(db_path):
    with Store(db_path) as store:
        conv = store.create_conversation(settings={"temperature": 0.2})
        store.add_message(conv.id, "system", "Be brief.")
        store.add_message(conv.id, "user", "Héllo 👋 — what is 2+2?")
        answer = store.add_message(
            conv.id, "assistant", "", model_file="SmolLM2-Q4_K_M.gguf", quant="Q4_K_M"
        )
        store.update_message(answer.id, "It is", reasoning="Adding.")
        store.update_message(answer.id, "It is 4.", stats=STATS, finish_reason="stop")

    with Store(db_path) as store:
        again = store.get_conversation(conv.id)
        messages = store.messages(conv.id)
    assert again.title == "Héllo 👋 — what is 2+2?"
    assert (again.model_file, again.quant, again.message_count) == (
        "SmolLM2-Q4_K_M.gguf",
        "Q4_K_M",
        3,
    )
    assert again.settings == {"temperature": 0.2}
    assert [(m.role, m.content) for m in messages] == [
        ("system", "Be brief."),
        ("user", "Héllo 👋 — what is 2+2?"),
        ("assistant", "It is 4."),
    ]
    last = messages[-1]
    assert last.reasoning == "Adding." and last.stats == STATS and last.finish_reason == "stop"
    assert last.model_file == "SmolLM2-Q4_K_M.gguf" and last.quant == "Q4_K_M"
    assert not last.unfinished and last.created_at >= again.created_at


def test_titles_come_from_the_first_user_message_only_when_untitled(store):
    long = "   \n" + "word " * 40 + "\nsecond line"
    conv = store.create_conversation()
    store.add_message(conv.id, "system", "You are a pirate.")
    assert store.get_conversation(conv.id).title == ""
    store.add_message(conv.id, "user", long)
    store.add_message(conv.id, "user", "Another question")
    title = store.get_conversation(conv.id).title
    assert title.startswith("word word") and title.endswith("…") and len(title) <= 60
    assert "second" not in title

    named = store.create_conversation("  Trip plans ")
    store.add_message(named.id, "user", "Where to go?")
    assert store.get_conversation(named.id).title == "Trip plans"
    store.rename_conversation(named.id, "Holiday")
    assert store.get_conversation(named.id).title == "Holiday"
    assert title_from_text("Short one") == "Short one"


def test_list_is_newest_first_and_pages(store):
    convs = [chat(store, f"question {i}") for i in range(5)]
    assert [c.id for c in store.list_conversations()] == [c.id for c in reversed(convs)]
    store.add_message(convs[0].id, "assistant", "a late answer")  # now the most recent
    listed = [c.id for c in store.list_conversations()]
    assert listed[0] == convs[0].id and store.last_conversation().id == convs[0].id
    assert [c.id for c in store.list_conversations(offset=1, limit=2)] == listed[1:3]
    assert store.count_conversations() == 5
    assert store.list_conversations(offset=5) == []


def test_delete_conversation_takes_its_messages_and_search_entries(store):
    keep = chat(store, "apples are red")
    gone = chat(store, "apples are green", "bananas are yellow")
    store.delete_conversation(gone.id)
    assert store.get_conversation(gone.id) is None
    assert store.messages(gone.id) == [] and store.message_count(gone.id) == 0
    assert found(store, "apples") == {keep.id} and found(store, "bananas") == set()
    fts_integrity(store._conn)


def test_settings_are_replaced_and_kept(store, db_path):
    conv = store.create_conversation()
    store.set_conversation_settings(conv.id, {"system_prompt": "Be kind.", "n_ctx": 8192})
    assert store.get_conversation(conv.id).settings == {"system_prompt": "Be kind.", "n_ctx": 8192}
    store.set_conversation_settings(conv.id, {})
    assert store.get_conversation(conv.id).settings == {}


def test_checkpoints_keep_fields_not_given_and_finishing_bumps_the_list(store):
    first = chat(store, "first question")
    second = chat(store, "second question")
    answer = store.add_message(first.id, "assistant", "", model_file="a.gguf", quant="Q8_0")
    store.add_message(second.id, "user", "more")  # second is now the newest
    for n in range(1, 6):
        store.update_message(answer.id, "tok " * n, reasoning="thinking" if n == 1 else None)
    m = store.message(answer.id)
    assert m.content == "tok " * 5 and m.reasoning == "thinking" and m.unfinished
    assert store.last_conversation().id == second.id  # a checkpoint does not reorder
    store.update_message(answer.id, "tok tok done", stats=STATS, finish_reason="length")
    m = store.message(answer.id)
    assert (m.stats, m.finish_reason, m.reasoning) == (STATS, "length", "thinking")
    assert store.last_conversation().id == first.id  # the finished answer does


def test_deleting_a_branch_deletes_what_follows_it_and_never_reuses_ids(store):
    conv = chat(store, "q1", "a1", "q2", "a2")
    ids = [m.id for m in store.messages(conv.id)]
    store.delete_branch(ids[2])
    assert [m.content for m in store.messages(conv.id)] == ["q1", "a1"]
    assert store.message_count(conv.id) == 2 == store.get_conversation(conv.id).message_count
    again = store.add_message(conv.id, "user", "q2, edited")
    assert again.id > ids[-1]  # a stale id held by the screen cannot hit the new message
    store.update_message(ids[3], "written by a stale stream")
    assert [m.content for m in store.messages(conv.id)] == ["q1", "a1", "q2, edited"]


def test_paging_backward_from_the_end(store):
    conv = store.create_conversation("long")
    for i in range(120):
        store.add_message(conv.id, "user" if i % 2 == 0 else "assistant", f"m{i}")
    page = store.messages(conv.id, limit=50)
    assert [m.content for m in page] == [f"m{i}" for i in range(70, 120)]
    page = store.messages(conv.id, before_id=page[0].id, limit=50)
    assert [m.content for m in page] == [f"m{i}" for i in range(20, 70)]
    page = store.messages(conv.id, before_id=page[0].id, limit=50)
    assert [m.content for m in page] == [f"m{i}" for i in range(20)]
    assert store.messages(conv.id, before_id=page[0].id, limit=50) == []
    assert len(store.messages(conv.id, before_id=page[-1].id)) == 19
    assert store.message_count(conv.id) == 120


def test_adding_to_a_deleted_conversation_says_so(store):
    conv = chat(store, "hello")
    store.delete_conversation(conv.id)
    with pytest.raises(StoreError, match="no longer exists"):
        store.add_message(conv.id, "user", "anyone?")
    with pytest.raises(ValueError, match="role"):
        store.add_message(chat(store, "x").id, "robot", "beep")


def test_the_store_can_be_used_from_a_worker_thread(store):
    conv = store.create_conversation()
    errors: list[BaseException] = []

    def worker():
        try:
            for i in range(20):
                store.add_message(conv.id, "user", f"from the worker {i}")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    for i in range(20):
        store.add_message(conv.id, "assistant", f"from the main thread {i}")
    thread.join(timeout=30)
    assert not thread.is_alive() and errors == []
    assert store.message_count(conv.id) == 40 == len(store.messages(conv.id))


# --- search ---------------------------------------------------------------------------------


def test_search_finds_words_in_messages_and_titles(store):
    fruit = chat(store, "I like Crème brûlée", "Try the Python recipe", title="Desserts")
    code = chat(store, "How do I sort a list in python?", "Use sorted().")
    assert found(store, "creme") == {fruit.id}  # case and accents do not matter
    assert found(store, "PYTHON") == {fruit.id, code.id}
    assert found(store, "desserts") == {fruit.id}  # the title
    assert found(store, "pyth") == {fruit.id, code.id}  # still typing: a prefix
    assert found(store, "pyth ") == set()  # a finished word is matched whole
    assert found(store, "python recipe") == {fruit.id}  # every word must be there
    assert found(store, "brûlée desserts") == {fruit.id}  # ... in any message or the title
    assert found(store, "sort sorted") == {code.id}
    assert found(store, "nowhere") == set()
    assert store.count_conversations("python") == 2 and store.count_conversations("") == 2


@pytest.mark.parametrize(
    "query",
    ['"', "*", "AND", "-", "OR NOT", "a AND", "(", ")", "^", "'", 'x"y', '""', "\\", "+",
     "title:x", "NEAR(a b)", "content:y", "{a b}", "a:", "*a", ":", "NOT -", "'; DROP TABLE"],
)  # fmt: skip
def test_hostile_search_text_never_raises(store, query):
    chat(store, "some text")
    assert store.list_conversations(query=query) is not None
    assert store.count_conversations(query) >= 0


def test_a_pasted_page_as_the_query_still_searches(store):
    conv = chat(store, "alpha beta gamma")
    essay = " ".join(f"word{i}" for i in range(5_000))
    assert found(store, essay) == set()
    assert found(store, "alpha " * 5_000 + "beta") == {conv.id}


def test_search_operators_are_just_words(store):
    both = chat(store, "cats AND dogs", "near the river, not here")
    assert found(store, "AND") == {both.id}
    assert found(store, "NOT near") == {both.id}
    assert found(store, '"cats') == {both.id}
    assert found(store, "-dogs") == {both.id}
    assert found(store, "cats-dogs") == set()  # a phrase: the two words together
    assert found(store, "cats and") == {both.id}
    assert store.count_conversations("*") == 1  # no word at all: nothing filtered


def test_search_follows_edits_and_deletes(store):
    conv = chat(store, "tell me about volcanoes")
    answer = store.add_message(conv.id, "assistant", "")
    store.update_message(answer.id, "Magma rises")
    assert found(store, "magma") == {conv.id}
    store.update_message(answer.id, "Lava flows", finish_reason="stop")
    assert found(store, "magma") == set() and found(store, "lava") == {conv.id}
    store.delete_branch(answer.id)
    assert found(store, "lava") == set() and found(store, "volcanoes") == {conv.id}
    store.rename_conversation(conv.id, "Geology")
    assert found(store, "geology") == {conv.id}
    store.rename_conversation(conv.id, "Rocks")
    assert found(store, "geology") == set()
    fts_integrity(store._conn)


# --- schema ---------------------------------------------------------------------------------

V1_BY_HAND = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, updated_at REAL NOT NULL, model_file TEXT, quant TEXT,
    message_count INTEGER NOT NULL DEFAULT 0, settings TEXT NOT NULL DEFAULT '{}');
CREATE INDEX conversations_by_updated ON conversations(updated_at);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')), content TEXT NOT NULL,
    reasoning TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, model_file TEXT, quant TEXT,
    stats TEXT, finish_reason TEXT);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
    UPDATE conversations SET message_count = message_count + 1 WHERE id = new.conversation_id;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
    UPDATE conversations SET message_count = message_count - 1 WHERE id = old.conversation_id;
END;
INSERT INTO conversations (title, created_at, updated_at) VALUES ('Old chat', 1.0, 2.0);
INSERT INTO messages (conversation_id, role, content, created_at)
    VALUES (1, 'user', 'a question about glaciers', 1.0);
INSERT INTO messages (conversation_id, role, content, created_at, stats, finish_reason)
    VALUES (1, 'assistant', 'Glaciers move slowly.', 2.0, '{"generated_tokens": 4}', 'stop');
PRAGMA user_version = 1;
"""


def test_a_version_1_database_is_upgraded_and_its_old_messages_become_searchable(db_path):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.executescript(V1_BY_HAND)
    conn.close()

    with Store(db_path) as store:
        conv = store.get_conversation(1)
        assert (conv.title, conv.message_count) == ("Old chat", 2)
        assert store.messages(1)[1].stats == {"generated_tokens": 4}
        assert found(store, "glaciers") == {1} and found(store, "old") == {1}
        store.add_message(1, "user", "and icebergs?")
        assert found(store, "icebergs") == {1}
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION >= 2
    fts_integrity(conn)
    conn.close()


def test_a_database_from_a_newer_version_is_refused_untouched(db_path):
    with Store(db_path) as store:
        chat(store, "hello")
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer gguf-tui"):
        Store(db_path)
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    conn.close()


# --- a bad environment: one plain sentence, never a traceback -------------------------------


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(db_path):
    db_path.parent.mkdir(parents=True)
    garbage = os.urandom(8192)
    db_path.write_bytes(garbage)
    with pytest.raises(StoreError, match="is not a conversation database"):
        Store(db_path)
    assert db_path.read_bytes() == garbage


def test_another_programs_database_is_refused_and_left_alone(db_path):
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.close()
    with pytest.raises(StoreError, match="another program"):
        Store(db_path)
    conn = sqlite3.connect(db_path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    conn.close()
    assert tables == ["invoices"]


def test_a_data_dir_that_cannot_be_created_is_reported(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where the data folder should be")
    with pytest.raises(StoreError, match="cannot create the folder"):
        Store(blocker / "data" / "conversations.sqlite3")


def test_a_database_path_that_is_a_folder_is_reported(tmp_path):
    (tmp_path / "conversations.sqlite3").mkdir()
    with pytest.raises(StoreError, match="is a folder, not a database file"):
        Store(tmp_path / "conversations.sqlite3")


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes through read-only permissions, so a read-only folder cannot be simulated",
)
def test_a_read_only_data_dir_is_reported(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StoreError, match=r"cannot open|read-only"):
            Store(folder / "conversations.sqlite3")
    finally:
        folder.chmod(0o700)


def test_a_full_disk_is_reported_and_what_was_saved_stays(store, db_path):
    conv = chat(store, "saved before the disk filled up")
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own "database or disk is full" (SQLITE_FULL), reached by capping the file size.
    store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(StoreError, match="disk is full"):
        store.add_message(conv.id, "assistant", "x" * 200_000)
    assert [m.content for m in store.messages(conv.id)] == ["saved before the disk filled up"]
    store._conn.execute("PRAGMA max_page_count = 1073741823")
    store.add_message(conv.id, "assistant", "room again")
    assert store.message_count(conv.id) == 2


def test_a_lock_held_past_the_timeout_is_reported_and_a_short_one_is_waited_out(db_path):
    with Store(db_path, timeout=0.5) as store:
        conv = chat(store, "hello")
        other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another instance in the middle of a write
        started = time.monotonic()
        with pytest.raises(StoreError, match="busy"):
            store.add_message(conv.id, "user", "blocked")
        assert 0.4 < time.monotonic() - started < 5
        assert store.messages(conv.id)[-1].content == "hello"  # reading still works

        release = threading.Timer(0.2, lambda: other.execute("COMMIT"))
        release.start()
        store.add_message(conv.id, "user", "waited")  # waits for the lock instead of failing
        release.join()
        other.close()
        assert store.messages(conv.id)[-1].content == "waited"


def test_a_closed_store_says_so(db_path):
    store = Store(db_path)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_conversations()


# --- scale (loose bounds: real benchmarks belong in benchmarks/) ---------------------------------


def fill(store: Store, conversations: int, long_messages: int) -> int:
    """Bulk rows straight into the schema (triggers keep counts and search in step)."""
    conn = store._conn
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
        ((f"chat {i}", float(i), float(i)) for i in range(conversations)),
    )
    conn.executemany(
        "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)",
        (
            (i + 1, role, f"{role} words {i} about topic{i % 100}", float(i))
            for i in range(conversations)
            for role in ("user", "assistant")
        ),
    )
    long_id = conn.execute(
        "INSERT INTO conversations (title, created_at, updated_at) VALUES ('long', 0, 0)"
    ).lastrowid
    conn.executemany(
        "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)",
        ((long_id, "user", f"line {n} " + "filler " * 30, float(n)) for n in range(long_messages)),
    )
    # Each message follows the one before it, as the app writes them (one branch).
    conn.execute(
        "UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages AS p"
        " WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)"
    )
    conn.execute("COMMIT")
    return long_id


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def test_ten_thousand_conversations_stay_fast(store):
    long_id = fill(store, 10_000, 5_000)

    page, seconds = timed(lambda: store.list_conversations(limit=200))
    assert len(page) == 200 and page[0].title == "chat 9999" and seconds < 0.5
    page, seconds = timed(lambda: store.list_conversations(offset=9_800, limit=200))
    assert len(page) == 200 and seconds < 0.5
    count, seconds = timed(store.count_conversations)
    assert count == 10_001 and seconds < 0.2
    last, seconds = timed(lambda: store.messages(long_id, limit=50))
    assert [m.content.split()[1] for m in last] == [str(n) for n in range(4_950, 5_000)]
    assert seconds < 0.2
    hits, seconds = timed(lambda: store.list_conversations(query="topic42 user"))
    assert len(hits) == 100 and seconds < 1.0
    answer = store.add_message(long_id, "assistant", "")
    _, seconds = timed(lambda: store.update_message(answer.id, "word " * 2_000))
    assert seconds < 0.2  # a streaming checkpoint


def test_the_big_queries_use_their_indexes(store):
    def plan(sql: str, *params) -> str:
        rows = store._conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return " | ".join(r[-1] for r in rows)

    listing = plan(
        "SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 200 OFFSET 0"
    )
    assert "conversations_by_updated" in listing and "TEMP B-TREE" not in listing
    paging = plan(
        "SELECT id FROM messages WHERE conversation_id = ? AND id < ? ORDER BY id DESC LIMIT 50",
        1,
        100,
    )
    assert "messages_by_conversation" in paging and "TEMP B-TREE" not in paging
