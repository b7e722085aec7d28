"""SIGKILL the app at random moments while it chats with SmolLM2, twenty times over one
data folder: after every kill the database passes its integrity checks and still holds
everything that was committed before the kill.

What was committed is read from the database (a second connection, as another
instance would) just before each kill; answers still being written may only have
grown since. The seed is fixed, so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from gguf_tui.store.database import Store
from tests.support.fake_engine import FakeEngine
from tests.support.processes import check_integrity
from tests.support.tui import make_app, screen_text, type_and_send, wait_idle, wait_until

ROOT = Path(__file__).resolve().parents[1]
RUNS = 20
SEED = 20240613

# id, conversation, role, content, finish_reason, parent
Row = tuple[int, int, str, str, str | None, int | None]


def committed(db: Path) -> dict[int, Row]:
    """Every message as another reader sees it now: only committed transactions."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT id, conversation_id, role, content, finish_reason, parent_id FROM messages"
        ).fetchall()
    finally:
        conn.close()
    return {row[0]: row for row in rows}


def lost(before: dict[int, Row], after: dict[int, Row]) -> list[str]:
    """What was committed before the kill and is not there (or not the same) after it."""
    problems = []
    for mid, (_, conv, role, content, reason, parent) in before.items():
        now = after.get(mid)
        if now is None:
            problems.append(f"message {mid} ({role}) is gone")
        elif (now[1], now[2], now[5]) != (conv, role, parent):
            problems.append(f"message {mid} changed conversation, role or place in the tree")
        elif role == "user" or reason is not None:
            if now[3:5] != (content, reason):
                problems.append(f"message {mid} ({role}, finished) changed")
        elif not now[3].startswith(content):  # an answer being written only grows
            problems.append(f"answer {mid} lost text: {len(content)} -> {len(now[3])} chars")
    return problems


def wait_for_line(proc: subprocess.Popen, expected: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(max(0.0, deadline - time.monotonic())):
                line = proc.stdout.readline()
                if not line:
                    raise AssertionError(f"the app ended: {proc.wait()} {proc.stderr.read()}")
                if line.strip() == expected:
                    return
    raise AssertionError(f"no {expected!r} within {timeout}s")


def wait_for(db: Path, since: int, what: str, timeout: float = 60) -> int:
    """Until this run has an answer with text that is unfinished (`partial`), finished,
    or unfinished beside a finished earlier version of it (`regenerating`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            rows = committed(db)
            done_below = {r[5] for r in rows.values() if r[2] == "assistant" and r[4]}
            for mid, _, role, content, reason, parent in rows.values():
                unfinished = reason is None
                if (
                    role == "assistant"
                    and mid > since
                    and content
                    and unfinished == (what != "finished")
                    and (what != "regenerating" or parent in done_below)
                ):
                    return mid
        time.sleep(0.02)
    raise AssertionError(f"no {what} answer within {timeout}s")


def test_twenty_kills_lose_nothing_committed(smollm_path, tmp_path):
    """Each run kills at a random moment after one of three points, in turn: the app is
    ready (anywhere: a message being saved, a prompt being read, an answer); an answer has
    been checkpointed with some text (mid-answer); an answer has been finished; a second
    version of an answer (ctrl+r) has been checkpointed beside the first: the earlier
    version and the checkpointed new one are both kept."""
    rng = random.Random(SEED)
    db = tmp_path / "conversations.sqlite3"
    partial = 0  # kills that left the newest answer with some text, unfinished
    for run in range(RUNS):
        since = max(committed(db), default=0) if db.exists() else 0
        args = [str(tmp_path), str(smollm_path), str(run)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.crash_driver", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        try:
            wait_for_line(proc, "ready", 120)
            point = ("ready", "partial", "finished", "regenerating")[run % 4]
            seen = wait_for(db, since, point) if point != "ready" else None
            time.sleep(rng.uniform(0.0, 1.2 if point in ("ready", "finished") else 0.3))
            before = committed(db) if db.exists() else {}
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.stderr.close()
        check_integrity(db)
        after = committed(db)
        assert lost(before, after) == [], f"run {run} (seed {SEED})"
        answers = [r for r in after.values() if r[2] == "assistant"]
        partial += bool(answers) and max(answers)[4] is None and max(answers)[3] != ""
        if point == "regenerating":  # the version being written and the one before it
            new = after[seen]
            versions = [r for r in answers if r[5] == new[5]]
            assert len(versions) >= 2 and all(v[3] for v in versions), f"run {run}: {versions}"

    assert partial >= 3  # kills did land mid-answer, after checkpoints
    with Store(db) as store:
        conversations = store.list_conversations(limit=None)
        assert len(conversations) >= RUNS // 2
        for conv in conversations:
            assert store.message_count(conv.id) == len(store.all_messages(conv.id))


async def test_an_answer_cut_off_before_any_text_is_not_shown_to_the_model(tmp_path):
    """A kill between saving the empty answer and its first checkpoint leaves an empty
    assistant message; sent along, it taught the model to answer nothing from then on."""
    with Store(tmp_path / "conversations.sqlite3") as store:
        conv = store.create_conversation()
        store.add_message(conv.id, "user", "What is a lighthouse?")
        store.add_message(conv.id, "assistant", "")  # cut off: no text, no finish reason
    engine = FakeEngine()
    app = make_app(tmp_path, engine=engine, open_conversation=conv.id)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.chat_screen.view.message_widgets) == 2)
        assert "interrupted" in screen_text(app)  # still shown, marked as cut off
        await type_and_send(pilot, "Are you there?")
        await wait_idle(pilot)
    sent = engine.requests[-1][0]
    # The unanswered question and the new one go as one turn: templates that insist on
    # alternating roles would refuse two user messages in a row.
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "What is a lighthouse?\n\nAre you there?"),
    ]
