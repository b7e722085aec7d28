"""Killing the app mid-answer loses nothing already committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from gguf_tui.store.database import Store
from gguf_tui.tui.widgets.messages import AssistantMessage
from tests.support.fake_engine import FakeEngine
from tests.support.processes import check_integrity
from tests.support.tui import make_app, wait_until

ROOT = Path(__file__).resolve().parents[1]


def partial_answer(db: Path) -> str:
    if not db.exists():
        return ""
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute(
                "SELECT content FROM messages WHERE role = 'assistant' ORDER BY id DESC LIMIT 1"
            ).fetchone()
    except sqlite3.OperationalError:
        return ""
    return row[0] if row else ""


def kill_mid_answer(data_dir: Path, model: Path, prompt: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.tui_driver", str(data_dir), str(model), prompt],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 120
        while len(partial_answer(data_dir / "conversations.sqlite3")) < 40:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint of the answer appeared"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_killed_mid_answer_then_reopened(smollm_path, tmp_path):
    prompt = "Write a very long story about a lighthouse keeper and a storm."
    kill_mid_answer(tmp_path, smollm_path, prompt)

    db = tmp_path / "conversations.sqlite3"
    check_integrity(db)
    store = Store(db)
    conv = store.last_conversation()
    messages = store.messages(conv.id)
    store.close()
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content == prompt
    partial = messages[1].content
    assert len(partial) >= 40 and messages[1].finish_reason is None  # cut off mid-answer

    app = make_app(tmp_path, engine=FakeEngine(), open_conversation=conv.id)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.chat_screen.view
        await wait_until(pilot, lambda: len(view.message_widgets) == 2)
        answer = view.query(AssistantMessage).last()
        assert answer.text == partial
