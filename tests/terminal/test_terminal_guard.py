"""A signal death of the TUI gives the terminal back (issue 16): gguf_tui/terminal_guard.py.

The real app runs in a real terminal under the watchdog, exactly as the launch hook in
commands/app.py starts it (`watch_terminal()` first, then the app); its process is then
killed the way a crash in llama.cpp or libgomp kills it. Without the watchdog the same
kill leaves the alternate screen and mouse reporting on (the test that shows the bug).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.hostile_gguf import write_tiny
from tests.terminal import harness
from tests.terminal.harness import Home, launched

_WRAPPER = """#!{python}
import sys
from gguf_tui.terminal_guard import watch_terminal
watch_terminal()
watch_terminal()  # as the launch hook in commands/app.py calls it again: a no-op
from gguf_tui.cli import main
sys.exit(main())
"""


@pytest.fixture
def guarded(tmp_path, monkeypatch):
    """`gguf-tui` as launched with the watchdog hook in place."""
    script = tmp_path / "gguf-tui-guarded"
    script.write_text(_WRAPPER.format(python=sys.executable), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setattr(harness, "gguf_tui_command", lambda: str(script))
    return script


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def ready(term) -> None:
    term.wait_for(lambda s: "ctx 0/" in s, 120, "the model to load")


def wait_exit(term, timeout: float = 20.0) -> int | None:
    deadline = time.monotonic() + timeout
    while term.proc.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)
    term._reader.join(5)
    return None if term.proc.isalive() else (term.proc.exitstatus, term.proc.signalstatus)


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGABRT, signal.SIGKILL])
def test_a_signal_death_restores_the_terminal(home: Home, tmp_path, guarded, sig):
    model = home.add_model(write_tiny(tmp_path / "tiny.gguf"))
    with launched(home, model, "--n-ctx", "512") as term:
        ready(term)
        (app,) = children(term.proc.pid)
        assert children(app) == []  # one watchdog, however often it is asked for
        os.kill(app, sig)
        status = wait_exit(term)
        assert status is not None, "the watchdog did not end"
        assert status[0] == 128 + sig, status
        assert term.restored(), term.tail()
        raw = bytes(term.raw)
        assert raw.rfind(b"\x1b[?25h") > raw.rfind(b"\x1b[?25l")  # the cursor is back
        assert raw.rfind(b"\x1b[?2004l") >= raw.rfind(b"\x1b[?2004h")  # paste mode off
        said = term.after_exit()
        assert f"the app was ended by {sig.name}" in said and "Traceback" not in said, said


def test_without_the_watchdog_the_same_death_leaves_the_terminal_broken(home: Home, tmp_path):
    home.extra_env["GGUF_TUI_NO_WATCHDOG"] = "1"  # as before the watchdog
    model = home.add_model(write_tiny(tmp_path / "tiny.gguf"))
    with launched(home, model, "--n-ctx", "512") as term:
        ready(term)
        os.kill(term.proc.pid, signal.SIGSEGV)
        assert wait_exit(term) is not None
        assert not term.restored()


def test_under_the_watchdog_quit_and_kill_behave_as_before(home: Home, tmp_path, guarded):
    model = home.add_model(write_tiny(tmp_path / "tiny.gguf"))
    with launched(home, model, "--n-ctx", "512") as term:
        ready(term)
        assert term.quit() == 0 and term.restored()
    with launched(home, model, "--n-ctx", "512") as term:
        ready(term)
        (app,) = children(term.proc.pid)
        term.proc.kill(signal.SIGKILL)  # the watchdog itself: the app ends with it
        deadline = time.monotonic() + 10
        while Path(f"/proc/{app}").exists() and time.monotonic() < deadline:
            try:  # reaped by init once it is gone; a zombie counts as gone
                if Path(f"/proc/{app}/stat").read_text().split()[2] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.05)
        assert time.monotonic() < deadline, "the app outlived its watchdog"
    with launched(home, model, "--n-ctx", "512") as term:
        ready(term)
        os.kill(term.proc.pid, signal.SIGTERM)  # forwarded: the app ends as on SIGTERM
        status = wait_exit(term)
        assert status is not None and term.restored()


def test_the_installed_command_runs_under_the_watchdog(home: Home, tmp_path):
    """The launch hook in commands/app.py: the real `gguf-tui`, no wrapper."""
    model = home.add_model(write_tiny(tmp_path / "tiny.gguf"))
    with launched(home, model, "--n-ctx", "512") as term:
        ready(term)
        (app,) = children(term.proc.pid)
        os.kill(app, signal.SIGSEGV)
        status = wait_exit(term)
        assert status is not None and status[0] == 128 + signal.SIGSEGV, status
        assert term.restored() and "the app was ended by SIGSEGV" in term.after_exit()


def test_closing_the_terminal_mid_answer_saves_it_and_leaves_no_process(home):
    """The terminal window closed (its pty hung up) while an answer streams: the answer
    is saved as far as it got, and neither the watchdog nor the app outlives the window.
    (Measured before: both stayed, the app at a third of a core, blocked on a write.)"""
    from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks

    words = [f"word{n} " for n in range(2000)]
    with FakeOpenAI(models=["plain"]) as lab:
        lab.replies = [Reply(chunks=text_chunks(words), delay=0.02)]
        with launched(home, "--server", lab.url, cols=100, rows=30) as term:
            term.wait_for("plain", 60, "the server's model")
            term.type_line("Count")
            term.wait_for("word40", 30, "the answer streaming")
            watchdog = term.proc.pid
            app = children(watchdog)
            assert app, "the app runs as the watchdog's child"
            term.proc.fileobj.close()  # the window closes: the kernel hangs the pty up
            deadline = time.monotonic() + 15
            alive = [watchdog, *app]
            while time.monotonic() < deadline and any(_running(p) for p in alive):
                time.sleep(0.05)
            assert not any(_running(p) for p in alive), "gguf-tui outlived its terminal"
    rows = home.query("SELECT content, finish_reason FROM messages WHERE role = 'assistant'")
    assert len(rows) == 1
    content, reason = rows[0]
    assert reason == "stopped" and content.startswith("word0 word1 ") and "word40" in content


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has ended; its parent has not reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
