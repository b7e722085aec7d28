"""Two app instances on one database at once, each writing its own conversation: no
corruption, no lost message. One answers with SmolLM2, the other with the scripted
fake engine, so their commits (messages, checkpoints, final answers) interleave."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from gguf_tui.store.database import Store
from tests.support.instance_driver import FAKE_ANSWER
from tests.support.processes import check_integrity, read_line

ROOT = Path(__file__).resolve().parents[1]
COUNT = 8


def test_two_instances_writing_at_once_lose_nothing(smollm_path, tmp_path):
    instances = {
        "real": [str(smollm_path)],
        "fake": [],
    }
    driver = [sys.executable, "-m", "tests.support.instance_driver", str(tmp_path)]
    procs = {
        name: subprocess.Popen(
            [*driver, name, str(COUNT), *extra],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, extra in instances.items()
    }
    try:
        for proc in procs.values():
            assert read_line(proc, 120) == "ready"
        started = time.monotonic()
        for proc in procs.values():  # go together
            proc.stdin.write("go\n")
            proc.stdin.flush()
        conversations = {}
        for name, proc in procs.items():
            word, conv_id = read_line(proc, 240).split()
            assert word == "done"
            conversations[name] = int(conv_id)
            assert proc.wait(timeout=60) == 0, proc.stderr.read()
        assert time.monotonic() - started < 240
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                stream.close()

    db = tmp_path / "conversations.sqlite3"
    check_integrity(db)
    with Store(db) as store:
        assert store.count_conversations() == 2
        for name, conv_id in conversations.items():
            messages = store.messages(conv_id)
            users = [m.content for m in messages if m.role == "user"]
            answers = [m for m in messages if m.role == "assistant"]
            assert users == [f"{name} message {i}" for i in range(COUNT)]
            assert [m.role for m in messages] == ["user", "assistant"] * COUNT
            assert all(m.finish_reason in ("stop", "length") and m.content for m in answers)
            if name == "fake":
                assert {m.content for m in answers} == {"".join(FAKE_ANSWER)}
            assert store.message_count(conv_id) == 2 * COUNT
