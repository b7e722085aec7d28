"""Hostile conversation databases through the real terminal: a damaged page is a notice
and the app stays usable; another program's database (even one at `user_version = 2`)
and hand-edited cells never take the app down; the terminal is always given back."""

from __future__ import annotations

import hashlib
import sqlite3
import time

from gguf_tui.store.database import Store
from tests.terminal.harness import Home, launched
from tests.terminal.seeded import notices

PAD = 3000  # characters before each message's words: one page of the file per message


def ready(term) -> None:
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx " in s, 120, "the model to load")
    term.wait_for(lambda s: not notices(term), 30, "the start's notices to go")


def seed_long(home: Home, model_file: str, names: tuple[str, ...]) -> None:
    """Oldest first; each message ends with "NAME question" / "NAME answer" (what the
    screen shows, at the bottom) after PAD filler characters."""
    with Store(home.database) as store:
        for name in names:
            conv = store.create_conversation(model_file=model_file, quant="Q4_K_M")
            store.add_message(conv.id, "user", f"{name}-mark " + "q" * PAD + f" {name} question")
            store.add_message(
                conv.id,
                "assistant",
                f"{name}-mark " + "a" * PAD + f" {name} answer",
                model_file=model_file,
                quant="Q4_K_M",
                finish_reason="stop",
            )
            store.rename_conversation(conv.id, f"{name.capitalize()} chat")


def damage_page_holding(path, marker: bytes) -> None:
    conn = sqlite3.connect(path)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    at = data.index(marker) // page * page
    data[at : at + page] = b"\xa5" * page
    path.write_bytes(bytes(data))


def test_a_damaged_page_is_a_notice_and_the_app_stays_usable(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    seed_long(home, model.name, ("alpha", "beta", "gamma"))  # gamma: the newest
    damage_page_holding(home.database, b"alpha-mark ")  # alpha's question's page
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.press("ctrl+down")
        term.wait_for("gamma answer", 15, "the newest conversation")
        term.press("ctrl+down")
        term.wait_for("beta answer", 15, "the next one")
        term.press("ctrl+down")  # alpha: its rows cannot be read
        term.wait_for(lambda s: "damaged" in notices(term), 15, "the notice")
        assert "restore it from a backup" in notices(term)
        assert "alpha answer" not in term.text()
        term.press("ctrl+up")  # still usable: back to a readable conversation
        term.wait_for("beta answer", 15, "beta again")
        assert term.proc.isalive()
        assert term.quit() == 0
    assert term.restored()
    assert "Traceback" not in term.after_exit()


def test_hand_edited_cells_show_and_the_app_stays_up(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    seed_long(home, model.name, ("alpha", "beta"))
    conn = sqlite3.connect(home.database)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'NOT NULL', '')"
        " WHERE name IN ('messages', 'conversations')"
    )
    conn.commit()
    conn.close()
    conn = sqlite3.connect(home.database)
    conn.execute("UPDATE conversations SET updated_at = 1e300, title = x'c328ff' WHERE id = 2")
    conn.execute(
        "UPDATE messages SET created_at = 'soon', finish_reason = 7,"
        ' stats = \'{"generated_tokens": "many", "time_to_first_token": "x"}\''
        " WHERE conversation_id = 2 AND role = 'assistant'"
    )
    conn.execute(
        "UPDATE messages SET content = CAST(x'ff20626574612071756573' AS TEXT) || 'tion'"
        " WHERE conversation_id = 2 AND role = 'user'"
    )
    conn.commit()
    conn.close()
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.press("ctrl+down")  # beta, the hand-edited one (1e300: the newest)
        term.wait_for("beta answer", 15, "the hand-edited conversation")
        term.press("ctrl+down")
        term.wait_for("alpha answer", 15, "the other one")
        assert term.quit() == 0
    assert term.restored()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_another_programs_database_is_one_line_and_the_terminal_untouched(home):
    home.data.mkdir(parents=True)
    conn = sqlite3.connect(home.database)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.execute("PRAGMA user_version = 2")  # gguf-tui's own schema number
    conn.commit()
    conn.close()
    before = digest(home.database)
    with launched(home) as term:
        deadline = time.monotonic() + 30
        while term.proc.isalive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert term.quit() == 2
        shown = term.after_exit()
    lines = [ln for ln in shown.splitlines() if ln.strip()]
    assert any("gguf-tui: error:" in ln and "another program" in ln for ln in lines), shown
    assert "Traceback" not in shown
    assert b"\x1b[?1049h" not in bytes(term.raw)  # refused before taking the screen
    assert digest(home.database) == before
    assert sorted(p.name for p in home.data.iterdir() if "sqlite" in p.name) == [
        "conversations.sqlite3"
    ]


def test_a_damaged_conversation_list_is_a_notice_at_start(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    seed_long(home, model.name, ("alpha", "beta"))
    damage_page_holding(home.database, b"Alpha chat")  # the conversations table's page
    with launched(home, model, cols=120, rows=40) as term:
        term.wait_for(lambda s: "damaged" in notices(term), 60, "the notice at start")
        term.wait_for(lambda s: "Q4_K_M" in s and "ctx " in s, 120, "the model to load")
        assert "Alpha chat" not in term.text()
        assert term.proc.isalive()
        assert term.quit() == 0
    assert term.restored()
    assert "Traceback" not in term.after_exit()
