"""Hostile conversation databases, on real SQLite files damaged here: another program's
file (never changed, not even its journal mode), read-only media, a damaged page, a
newer or foreign schema, hand-edited cells, a folder or a pipe as the path, a full
disk. The CLI runs as a user would (`python -m gguf_tui`), bounded in time and RSS;
each failure is one `gguf-tui: error:` line with exit code 2, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gguf_tui.store.database import Store
from gguf_tui.store.errors import StoreError
from gguf_tui.store.opening import APPLICATION_ID
from tests.support.measured import run_measured

DB = "conversations.sqlite3"
WALL_S = 20.0  # each command here, well above what it needs (under 2 s)
PEAK_MIB = 300.0


def snapshot(folder: Path) -> dict[str, str]:
    """Every file in `folder` and the hash of its bytes: a change or a new file shows."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def cli(data: Path, *args: object):
    env = {"GGUF_TUI_DATA_DIR": str(data), "GGUF_TUI_CONFIG_DIR": str(data.parent / "config")}
    out = run_measured(*args, env=env, timeout=60)
    assert out.rc is not None and out.rc >= 0, f"killed (rc {out.rc}): {out.stderr[-2000:]}"
    assert "Traceback" not in out.stderr, out.stderr
    assert out.wall < WALL_S and out.peak_mib < PEAK_MIB, (out.wall, out.peak_mib)
    return out


def one_error_line(out) -> str:
    assert out.rc == 2, (out.rc, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gguf-tui: error: "), out.stderr
    return lines[0]


def foreign(path: Path, *, version: int = 0, wal: bool = False, app_id: int = 0) -> None:
    """Another program's database: a notes table, closed cleanly (no -wal left)."""
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.execute(f"PRAGMA user_version = {version}")
    if app_id:
        conn.execute(f"PRAGMA application_id = {app_id}")
    conn.commit()
    conn.close()


def ours(path: Path, conversations: int = 3, size: int = 3000) -> list[int]:
    """A database the app wrote: `conversations` of two long messages each (a page per
    message), checkpointed and closed, so everything is in the main file."""
    ids = []
    with Store(path) as store:
        for i in range(conversations):
            conv = store.create_conversation(f"chat {i}")
            store.add_message(conv.id, "user", f"question{i} " + "q" * size)
            store.add_message(
                conv.id, "assistant", f"answer{i} " + "a" * size, finish_reason="stop"
            )
            ids.append(conv.id)
    return ids


def damage_page_holding(path: Path, marker: bytes) -> int:
    """Overwrite the page that holds `marker` with garbage: a damaged b-tree page."""
    conn = sqlite3.connect(path)
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    at = data.index(marker) // page * page
    data[at : at + page] = b"\xa5" * page
    path.write_bytes(bytes(data))
    return at // page + 1


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


# -- another program's file is never changed -----------------------------------------------


FOREIGN = {
    "plain": {},
    "wal": {"wal": True},
    "user_version 2": {"version": 2},
    "user_version 1, WAL": {"version": 1, "wal": True},
    "an application id": {"app_id": 0x1234},
}


@pytest.mark.parametrize("kind", FOREIGN)
@pytest.mark.parametrize("command", [["export", "--list"], ["export", "--all"], []])
def test_another_programs_database_is_refused_and_left_byte_for_byte(data, kind, command):
    foreign(data / DB, **FOREIGN[kind])
    before = snapshot(data)
    line = one_error_line(cli(data, *command))  # [] is the app: refused before the screen
    assert "another program" in line and "left untouched" in line
    assert snapshot(data) == before  # no WAL switch, no -wal or -shm left beside it
    with pytest.raises(StoreError, match="another program"):
        Store(data / DB)
    assert snapshot(data) == before


def test_a_file_that_is_not_sqlite_is_left_as_it_is(data):
    (data / DB).write_text("my notes, not a database\n" * 200)
    before = snapshot(data)
    assert "not a conversation database" in one_error_line(cli(data, "export", "--list"))
    assert snapshot(data) == before


def test_a_newer_gguf_tui_database_is_refused_unchanged(data):
    ours(data / DB, 1)
    conn = sqlite3.connect(data / DB)
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    before = snapshot(data)
    for command in (["export", "--list"], []):
        assert "newer gguf-tui (schema 7" in one_error_line(cli(data, *command))
    assert snapshot(data) == before


def test_our_database_gets_our_application_id_and_an_old_one_still_opens(data):
    ours(data / DB, 1)
    conn = sqlite3.connect(data / DB)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.execute("PRAGMA application_id = 0")  # as every file before this version
    conn.commit()
    conn.close()
    out = cli(data, "export", "--list")
    assert out.rc == 0 and "chat 0" in out.stdout
    with Store(data / DB) as store:  # opened to write: it is marked as ours now
        assert store.list_conversations()[0].title == "chat 0"
    conn = sqlite3.connect(data / DB)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()


# -- read-only media ------------------------------------------------------------------------


def lock(*paths: Path) -> bool:
    """`chattr +i`: read-only even for root (the tests run as root); False where not allowed."""
    if shutil.which("chattr") is None:
        return False
    done = [p for p in paths if subprocess.run(["chattr", "+i", str(p)]).returncode == 0]
    if len(done) != len(paths):
        unlock(*done)
        return False
    return True


def unlock(*paths: Path) -> None:
    subprocess.run(["chattr", "-i", *map(str, paths)], check=False)


def test_export_reads_a_database_on_read_only_media(data):
    ours(data / DB, 2)
    assert sorted(p.name for p in data.iterdir()) == [DB]  # closed cleanly: no -wal, no -shm
    (data / DB).chmod(0o444)
    data.chmod(0o555)
    before = snapshot(data)
    if not lock(data / DB, data):
        data.chmod(0o755)
        pytest.skip("chattr +i is not allowed here: read-only media cannot be simulated")
    try:
        listed = cli(data, "export", "--list")
        assert listed.rc == 0, listed.stderr
        assert "chat 0" in listed.stdout and "chat 1" in listed.stdout
        dumped = cli(data, "export", "--all", "--format", "json")
        assert dumped.rc == 0, dumped.stderr
        assert len(json.loads(dumped.stdout)) == 2
        line = one_error_line(cli(data))  # the app saves as it goes: it says why it cannot
        assert "cannot save to" in line and "read-only" in line and "export" in line
    finally:
        unlock(data / DB, data)
        data.chmod(0o755)
    assert snapshot(data) == before


def test_a_read_only_file_in_a_writable_folder_says_which(data):
    ours(data / DB, 1)
    if not lock(data / DB):
        pytest.skip("chattr +i is not allowed here")
    try:
        store = Store(data / DB)
        assert store.read_only_reason == "the file is read-only"
        assert store.list_conversations()[0].title == "chat 0"
        with pytest.raises(StoreError, match=r"cannot save to .*: the file is read-only"):
            store.create_conversation("x")
        store.close()
    finally:
        unlock(data / DB)


# -- a damaged page, a schema that is not ours -----------------------------------------------


def test_a_damaged_page_keeps_the_rest_readable_and_reports_once(data):
    ids = ours(data / DB, 3)
    damage_page_holding(data / DB, b"question0 ")
    reported: list[str] = []
    with Store(data / DB, on_read_error=reported.append) as store:
        titles = [c.title for c in store.list_conversations()]
        assert titles == ["chat 2", "chat 1", "chat 0"]
        assert store.messages(ids[0]) == []  # its first row is on the damaged page
        assert [m.content[:7] for m in store.messages(ids[2])] == ["questio", "answer2"]
        assert store.messages(ids[0]) == []  # again: the same message is not repeated
    assert len(reported) == 1 and "is damaged; restore it from a backup" in reported[0]
    with Store(data / DB) as store, pytest.raises(StoreError, match="damaged"):
        store.messages(ids[0])  # without a reporter (export), reads raise as before


def test_export_of_a_damaged_database_is_one_clear_line(data):
    ours(data / DB, 3)
    damage_page_holding(data / DB, b"question1 ")
    before = snapshot(data)
    line = one_error_line(cli(data, "export", "--all"))
    assert "is damaged; restore it from a backup" in line
    listed = cli(data, "export", "--list")  # the list reads only the conversations
    assert listed.rc == 0 and "chat 1" in listed.stdout
    assert snapshot(data)[DB] == before[DB]


def test_a_truncated_database_is_one_clear_line(data):
    ours(data / DB, 3)
    raw = (data / DB).read_bytes()
    (data / DB).write_bytes(raw[: len(raw) // 3])
    for command in (["export", "--list"], []):
        assert "damaged" in one_error_line(cli(data, *command))


# -- hand-edited cells ----------------------------------------------------------------------


def hand_edit(path: Path) -> list[int]:
    """Cells no gguf-tui writes, as a user with the sqlite3 shell could: NOT NULL taken
    off the schema, then BLOBs, NULLs, text in number columns, 1e300, bytes not UTF-8."""
    ids = ours(path, 3, size=10)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'NOT NULL', '')"
        " WHERE name IN ('messages', 'conversations')"
    )
    conn.commit()
    conn.close()
    conn = sqlite3.connect(path)
    edits = [
        "UPDATE conversations SET updated_at = 1e300, created_at = -1e300 WHERE id = 1",
        "UPDATE conversations SET title = NULL, created_at = 'yesterday',"
        " message_count = 'many' WHERE id = 2",
        "UPDATE conversations SET settings = '[1, 2]', updated_at = x'00ff',"
        " title = x'c328', model_file = 42 WHERE id = 3",
        "UPDATE messages SET content = x'00ff10' WHERE id = 1",
        "UPDATE messages SET content = NULL, reasoning = NULL, created_at = NULL WHERE id = 2",
        "UPDATE messages SET content = CAST(x'ff41' AS TEXT),"
        ' stats = \'{"generated_tokens": "many", "waited_for": 3}\' WHERE id = 3',
        "UPDATE messages SET created_at = 'now', finish_reason = 7, model_file = x'41',"
        " stats = '" + "[" * 100_000 + "' WHERE id = 4",
        "UPDATE messages SET stats = '{\"generated_tokens\": 1e999}' WHERE id = 5",
    ]
    for sql in edits:
        conn.execute(sql)
    conn.commit()
    conn.close()
    return ids


def test_hand_edited_cells_become_plain_values(data):
    ids = hand_edit(data / DB)
    with Store(data / DB) as store:
        convs = {c.id: c for c in store.list_conversations()}
        assert convs[1].updated_at == 0.0 and convs[1].created_at == 0.0
        assert convs[2].title == "" and convs[2].created_at == 0.0 and convs[2].message_count == 0
        assert (
            convs[3].settings == {} and convs[3].title == "\ufffd(" and convs[3].model_file == "42"
        )
        messages = [m for cid in ids for m in store.messages(cid)]
    by_id = {m.id: m for m in messages}
    assert by_id[1].content == "\x00\ufffd\x10"
    assert by_id[2].content == "" and by_id[2].reasoning == "" and by_id[2].created_at == 0.0
    assert by_id[3].content == "\ufffdA" and by_id[3].stats == {}
    assert by_id[4].stats is None and by_id[4].finish_reason == "7" and by_id[4].model_file == "A"
    assert by_id[5].stats == {}
    for m in messages:
        assert isinstance(m.content, str) and isinstance(m.created_at, float)


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--list"],
        ["export", "--all"],
        ["export", "--all", "--format", "json"],
        ["export", "1", "--format", "history"],
        ["export", "--list", "--search", "answer0"],
    ],
)
def test_hand_edited_cells_export_without_a_traceback(data, command):
    hand_edit(data / DB)
    out = cli(data, *command)
    assert out.rc == 0, out.stderr
    if "json" in command:
        assert len(json.loads(out.stdout)) == 3


# -- the path itself, a full disk -----------------------------------------------------------


def test_a_folder_as_the_database_path_says_so(data):
    (data / DB).mkdir()
    for command in (["export", "--list"], []):
        assert "is a folder, not a database file" in one_error_line(cli(data, *command))


def test_a_named_pipe_as_the_database_path_says_so_and_never_blocks(data):
    os.mkfifo(data / DB)
    for command in (["export", "--list"], []):
        assert "is a named pipe, not a database file" in one_error_line(cli(data, *command))


def test_a_dangling_link_as_the_database_path_says_so(data):
    (data / DB).symlink_to(data / "gone" / "elsewhere.sqlite3")
    assert "does not exist" in one_error_line(cli(data))
    assert not (data / "gone").exists()


FULL_DISK = r"""
set -e
mount -t tmpfs -o size=512k tmpfs "$1"
mkdir "$1/data"
"$2" -c 'import sys; from pathlib import Path; from gguf_tui.store.database import Store
with Store(Path(sys.argv[1]) / "data" / "conversations.sqlite3") as s:
    s.add_message(s.create_conversation("kept").id, "user", "hi")' "$1"
dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true
shift 2
GGUF_TUI_DATA_DIR="$MNT/data" GGUF_TUI_CONFIG_DIR="$MNT/config" "$@" || echo "rc=$?"
"""


APP = [sys.executable, "-m", "gguf_tui"]


def test_a_full_disk_at_start_says_the_disk_is_full(tmp_path):
    """A real full disk: a 512 KiB tmpfs in a mount namespace of its own, filled up. The
    database is there; SQLite cannot create its -shm file (an I/O error, not SQLITE_FULL)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare here")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", FULL_DISK, "sh", str(mnt), sys.executable, *APP],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MNT": str(mnt)},
        cwd=Path(__file__).resolve().parents[1],
    )
    if "mount" in out.stderr and "rc=" not in out.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()[:200]}")
    assert "Traceback" not in out.stderr, out.stderr
    lines = [ln for ln in out.stderr.strip().splitlines() if ln.startswith("gguf-tui: error:")]
    assert len(lines) == 1 and "the disk is full" in lines[0], out.stderr
    assert "rc=2" in out.stdout
