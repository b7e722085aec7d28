"""Environment faults: a full disk, a locked or read-only database, a data folder that
cannot exist, a broken config file, a model deleted while listed, a Hub that is offline
or stalls. Each gets a clear message and nothing is lost.

How each is simulated, running as root: a full disk through SQLite's `max_page_count`
on the app's own connection; read-only with `chattr +i` (skipped where the filesystem
or the container does not allow it); a second instance as another process holding a
write transaction. See docs/troubleshooting.md for what users see.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gguf_tui.config.settings import load_config, load_state, resolve_paths
from gguf_tui.store.database import Store
from gguf_tui.tui.widgets.messages import AssistantMessage
from tests.support.cli import gguf_tui
from tests.support.fake_engine import FakeEngine
from tests.support.tui import (
    make_app,
    notifications,
    screen_text,
    type_and_send,
    wait_idle,
    wait_until,
)

pytest_plugins = ["tests.conftest_hub"]
ROOT = Path(__file__).resolve().parents[1]


def one_error_line(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gguf-tui: error: "), out.stderr
    return lines[0]


def with_store_timeout(app, seconds: float):
    """The app's database, waiting at most `seconds` for a lock (the default is 5 s)."""
    path = app.store.path
    app.store.close()
    app.store = Store(path, timeout=seconds)
    return app


def fill_disk(app) -> None:
    """Let the database grow no more: SQLite then fails as on a full disk."""
    conn = app.store._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def free_disk(app) -> None:
    app.store._conn.execute("PRAGMA max_page_count = 1073741823")


# -- a full disk ----------------------------------------------------------------------------


async def test_a_full_disk_keeps_the_message_in_the_prompt(tmp_path):
    app = make_app(tmp_path, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "first message")
        await wait_idle(pilot)
        fill_disk(app)
        big = "A long message that needs new pages. " * 400
        await type_and_send(pilot, big)
        await wait_until(pilot, lambda: "disk is full" in notifications(app), 10)
        assert "kept in the prompt" in notifications(app)
        assert app.chat_screen.prompt.text == big and app.chat_screen.reply is None
        free_disk(app)  # space freed: the same message goes out
        await pilot.press("enter")
        await wait_idle(pilot)
        saved = app.store.messages(app.chat_screen.conversation_id)
        assert [m.content for m in saved if m.role == "user"] == ["first message", big]
        assert saved[-1].finish_reason == "stop"


async def test_a_disk_filling_up_mid_answer_keeps_it_on_screen_then_saves_it(tmp_path):
    script = [f"Sentence {i} of a long answer that grows past one page. " for i in range(150)]
    app = make_app(tmp_path, engine=FakeEngine(script=script, delay=0.02))
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Tell me a long story.")
        screen = app.chat_screen
        await wait_until(pilot, lambda: screen.reply and len(screen.reply.widget.text) > 200)
        fill_disk(app)
        await wait_until(pilot, lambda: "disk is full" in notifications(app), 10, "the warning")
        assert "The answer stays on screen" in notifications(app)
        assert screen.reply is not None  # the answer goes on
        free_disk(app)
        await wait_idle(pilot, 30)
        saved = app.store.messages(screen.conversation_id)[-1]
        assert saved.content == "".join(script) and saved.finish_reason == "stop"
        assert screen.view.query(AssistantMessage).last().text == "".join(script)
        assert app.is_running


async def test_an_answer_that_cannot_be_saved_at_all_says_so(tmp_path):
    script = [f"Sentence {i} of a long answer that grows past one page. " for i in range(150)]
    app = make_app(tmp_path, engine=FakeEngine(script=script, delay=0.01))
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Tell me a long story.")
        screen = app.chat_screen
        await wait_until(pilot, lambda: screen.reply and len(screen.reply.widget.text) > 200)
        fill_disk(app)
        await wait_idle(pilot, 30)
        answer = screen.view.query(AssistantMessage).last()
        assert answer.text == "".join(script)  # all of it on screen
        assert "not saved: the disk is full" in screen_text(app)
        saved = app.store.messages(screen.conversation_id)[-1]
        assert "".join(script).startswith(saved.content)  # the last checkpoint that fit
        assert saved.finish_reason is None  # shown as interrupted when reopened


# -- a second instance holding the write lock -----------------------------------------------

LOCKER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO conversations (title, created_at, updated_at) VALUES ('other', 0, 0)"
    )
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    print("released", flush=True)
    """
)


def hold_write_lock(db: Path) -> subprocess.Popen:
    """Another process in the middle of a write transaction (until it reads a line)."""
    return subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_a_locked_database_says_so_and_loses_nothing(tmp_path):
    app = with_store_timeout(make_app(tmp_path, engine=FakeEngine()), 1.0)
    locker = hold_write_lock(app.store.path)
    try:
        assert locker.stdout.readline().strip() == "locked"
        async with app.run_test(size=(120, 40)) as pilot:  # starts while the lock is held
            await type_and_send(pilot, "written while locked")
            await wait_until(pilot, lambda: "busy" in notifications(app), 10)
            assert "another gguf-tui is writing" in notifications(app)
            assert app.chat_screen.prompt.text == "written while locked"
            locker.stdin.write("\n")
            locker.stdin.flush()
            assert locker.stdout.readline().strip() == "released"
            await pilot.press("enter")
            await wait_idle(pilot)
            conv = app.chat_screen.conversation_id
            assert [m.role for m in app.store.messages(conv)] == ["user", "assistant"]
            assert {c.title for c in app.store.list_conversations()} == {
                "other",
                "written while locked",
            }
    finally:
        locker.kill()
        locker.wait()
        for stream in (locker.stdin, locker.stdout, locker.stderr):
            stream.close()


# -- read-only, or no folder at all ----------------------------------------------------------


def immutable(path: Path) -> bool:
    """`chattr +i`: read-only even for root; False where it is not allowed here."""
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def test_a_read_only_data_folder_is_one_clear_line_and_nothing_changes(tmp_path, smollm_path):
    data = tmp_path / "data"
    with Store(data / "conversations.sqlite3") as store:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "kept")
    files = sorted(data.iterdir())
    before = {p.name: p.read_bytes() for p in files}
    locked = [p for p in [*files, data] if immutable(p)]
    if len(locked) != len(files) + 1:
        subprocess.run(["chattr", "-i", *map(str, locked)], check=False)
        pytest.skip("chattr +i is not allowed here: a read-only folder cannot be simulated")
    try:
        line = one_error_line(gguf_tui("--data-dir", data))
        assert "conversations.sqlite3" in line and "writable" in line
        # One-shot answers need no database: they still work.
        out = gguf_tui("run", smollm_path, "Say hi.", "--max-tokens", "8", "--data-dir", data)
        assert out.returncode == 0 and out.stdout.strip(), out.stderr
    finally:
        subprocess.run(["chattr", "-i", *map(str, locked)], check=True)
    assert {p.name: p.read_bytes() for p in sorted(data.iterdir())} == before


def test_a_data_folder_under_a_file_is_one_clear_line(tmp_path, smollm_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder's parent should be")
    line = one_error_line(gguf_tui("--data-dir", blocker / "data"))
    assert "cannot create the folder" in line and "Not a directory" in line
    out = gguf_tui("run", smollm_path, "Say hi.", "--max-tokens", "8", "--data-dir", blocker / "d")
    assert out.returncode == 0 and out.stdout.strip(), out.stderr


# -- the config file -----------------------------------------------------------------------


async def test_a_broken_config_file_is_reported_and_never_overwritten(tmp_path, monkeypatch):
    config_dir = tmp_path / "config"
    monkeypatch.setenv("GGUF_TUI_CONFIG_DIR", str(config_dir))
    config_dir.mkdir()
    broken = "# my settings\nn_ctx = 8192\ntemperature = [unclosed\n"
    (config_dir / "config.toml").write_text(broken)
    model = tmp_path / "Fake-1B-Instruct-Q4_K_M.gguf"
    app = make_app(tmp_path / "data", engine=FakeEngine(), model_path=model)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "Loaded" in notifications(app), 10, "the model")
        assert "is not valid TOML" in notifications(app)
        assert app.config.settings.n_ctx == 4096  # the defaults, not half a file
        await type_and_send(pilot, "still works")
        await wait_idle(pilot)
    assert (config_dir / "config.toml").read_text() == broken  # not even the last model


async def test_a_wrong_value_is_reported_and_kept_as_written(tmp_path, monkeypatch):
    config_dir = tmp_path / "config"
    monkeypatch.setenv("GGUF_TUI_CONFIG_DIR", str(config_dir))
    config_dir.mkdir()
    (config_dir / "config.toml").write_text('n_ctx = "8k"\ntop_k = 20\n')
    model = tmp_path / "Fake-1B-Instruct-Q4_K_M.gguf"
    app = make_app(tmp_path / "data", engine=FakeEngine(), model_path=model)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "Loaded" in notifications(app), 10, "the model")
        assert "'n_ctx' should be an int" in notifications(app)
    saved = load_config(config_dir / "config.toml")
    assert saved.raw["n_ctx"] == "8k"  # the user's text, for them to fix, not our default
    assert saved.raw["top_k"] == 20 and "default_model" not in saved.raw
    assert load_state(resolve_paths(tmp_path / "data"))["last_model"] == str(model)


# -- a model deleted while it is listed ------------------------------------------------------


async def test_choosing_a_model_deleted_since_the_list_was_made(ladder, hub_env, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    doomed = Path(shutil.copy(ladder["Q3_K_S"], models))
    app = make_app(tmp_path / "data", extra_model_dirs=[str(models)])
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: doomed.stem in screen_text(app), 30, "the list")
        await asyncio.to_thread(doomed.unlink)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Could not load" in screen_text(app), 30)
        assert f"{doomed} does not exist" in notifications(app)
        assert app.screen.__class__.__name__ == "ModelPicker" and app.engine.info is None
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")
        await pilot.press("ctrl+o")  # a new look finds it gone
        await wait_until(pilot, lambda: "0 models on disk" in screen_text(app), 30)


# -- the Hub offline or stalling --------------------------------------------------------------


async def search_hub(app, pilot, query: str = "SmolLM2") -> None:
    await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ModelPicker")
    await pilot.press("ctrl+g")
    app.screen.query_one("#hub-search").value = query
    await pilot.press("enter")


async def test_a_stalled_hub_times_out_and_the_app_stays_usable(fake_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("GGUF_TUI_HUB_TIMEOUT", "2")
    fake_hub.stall = "headers"
    app = make_app(tmp_path / "data")
    async with app.run_test(size=(130, 40)) as pilot:
        await search_hub(app, pilot)
        started = time.monotonic()
        await pilot.press("ctrl+l")  # the UI answers while the search waits
        await wait_until(pilot, lambda: app.screen.query_one("#local-filter").has_focus, 2)
        assert time.monotonic() - started < 2
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: "stopped answering" in screen_text(app), 15)
        assert time.monotonic() - started < 10


async def test_an_offline_or_unreachable_hub_is_a_plain_message(fake_hub, tmp_path, monkeypatch):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=(130, 40)) as pilot:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        await search_hub(app, pilot)
        await wait_until(pilot, lambda: "offline" in screen_text(app).lower(), 10)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        fake_hub.close()
        app.screen.query_one("#hub-search").value = "SmolLM2 again"
        app.screen.query_one("#hub-search").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "cannot reach" in screen_text(app), 10)
        assert app.is_running


async def test_a_download_that_stalls_fails_cleanly(fake_hub, hub_env, tmp_path, monkeypatch):
    from tests.support.fake_hub import LADDER_REPO

    monkeypatch.setenv("GGUF_TUI_HUB_TIMEOUT", "2")
    fake_hub.stall, fake_hub.stall_match = "body", "/resolve/"
    app = make_app(tmp_path / "data")
    async with app.run_test(size=(130, 40)) as pilot:
        await search_hub(app, pilot, LADDER_REPO)  # an exact repo: straight to its files
        quants = app.screen.query_one("#hub-quants")
        await wait_until(pilot, lambda: quants.row_count == 6, 15, "the quantizations")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "stopped answering" in notifications(app), 30)
        assert app.engine.info is None and app.is_running
    leftovers = [p for p in hub_env.rglob("*.gguf") if p.is_file()]
    assert leftovers == []  # nothing that looks like a whole model
