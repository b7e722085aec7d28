"""Several processes on one database, and a process killed mid-answer: nothing committed is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from gguf_tui.store.database import Store
from tests.support.processes import check_integrity, read_line

ROOT = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from gguf_tui.store.database import Store

    path, conversation_id, name, count = sys.argv[1:]
    conversation_id, count = int(conversation_id), int(count)
    store = Store(Path(path), timeout=30)
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    own = store.create_conversation(f"{name} alone")
    for i in range(count):
        store.add_message(conversation_id, "user", f"{name} {i}")
        store.add_message(own.id, "assistant", f"{name} own {i}")
    store.close()
    print("done", flush=True)
    """
)

STREAMER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from gguf_tui.store.database import Store

    store = Store(Path(sys.argv[1]))
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "Write a long story about a lighthouse.")
    answer = store.add_message(conv.id, "assistant", "", model_file="m.gguf", quant="Q4_K_M")
    print(conv.id, answer.id, flush=True)
    n = 0
    while True:  # an answer that never ends: only SIGKILL stops it
        n += 1
        store.update_message(answer.id, " ".join(f"w{k}" for k in range(n)), reasoning="hmm")
        print(n, flush=True)
    """
)


def spawn(script: str, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    with Store(path) as store:
        shared = store.create_conversation("shared")
    count = 150
    writers = [spawn(WRITER, path, shared.id, name, count) for name in ("alpha", "beta")]
    for proc in writers:
        assert read_line(proc) == "ready"
    for proc in writers:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in writers:
        assert read_line(proc, timeout=120) == "done"
        assert proc.wait(timeout=30) == 0, proc.stderr.read()

    check_integrity(path)
    with Store(path) as store:
        messages = store.messages(shared.id)
        assert store.message_count(shared.id) == 2 * count == len(messages)
        for name in ("alpha", "beta"):  # all there, each writer's in its own order
            assert [m.content for m in messages if m.content.startswith(name)] == [
                f"{name} {i}" for i in range(count)
            ]
            own = store.list_conversations(query=f"{name} alone")
            assert len(own) == 1 and own[0].message_count == count
        assert store.count_conversations() == 3


def test_a_process_killed_mid_answer_keeps_every_checkpoint(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    proc = spawn(STREAMER, path)
    try:
        conversation_id, answer_id = map(int, read_line(proc).split())
        with Store(path) as watcher:  # a second instance sees the answer grow
            seen = 0
            while seen < 30:
                seen = int(read_line(proc))
                if seen == 10:
                    assert watcher.message(answer_id).content.startswith("w0 w1 w2 w3 w4 w5")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
        proc.stdin.close()

    acknowledged = " ".join(f"w{k}" for k in range(seen))
    check_integrity(path)
    started = time.monotonic()
    with Store(path) as store:
        messages = store.messages(conversation_id)
    assert time.monotonic() - started < 5
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content == "Write a long story about a lighthouse."
    answer = messages[1]
    assert answer.content.startswith(acknowledged)  # at least the last checkpoint it reported
    assert answer.reasoning == "hmm" and answer.model_file == "m.gguf"
    assert answer.unfinished  # the app can show it was cut off
