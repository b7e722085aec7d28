"""The installed `gguf-tui` command in a pseudo-terminal, read back through a VT100 screen.

This is the front door: the console script a user types, a fresh home (XDG folders in
a temporary directory, nothing of the developer's), a fixed size, and bytes written the
way terminals write them: a line and its Enter in one write, a bracketed paste with CR
line ends, a resize that arrives as SIGWINCH. `pyte` keeps the screen the app draws so
a test asserts what a user would read. Both `ptyprocess` and `pyte` are pure PyPI
packages, so CI needs nothing from apt.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ptyprocess
import pyte

ENTER = "\r"
ESCAPE = "\x1b"
TAB = "\t"
CTRL_Q = "\x11"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
KEYS = {
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "f1": "\x1bOP",
    "f2": "\x1bOQ",
    "f3": "\x1bOR",
    "f4": "\x1bOS",
    "f5": "\x1b[15~",
    "f6": "\x1b[17~",
    "f7": "\x1b[18~",
    "f8": "\x1b[19~",
    "f9": "\x1b[20~",
    "f10": "\x1b[21~",
    "backspace": "\x7f",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "delete": "\x1b[3~",
    "shift+tab": "\x1b[Z",
    "alt+up": "\x1b[1;3A",
    "alt+left": "\x1b[1;3D",
    "alt+right": "\x1b[1;3C",
    "alt+down": "\x1b[1;3B",
    "ctrl+up": "\x1b[1;5A",
    "ctrl+down": "\x1b[1;5B",
}


def ctrl(letter: str) -> str:
    """The byte a terminal sends for ctrl+LETTER."""
    return chr(ord(letter.lower()) - ord("a") + 1)


def gguf_tui_command() -> str:
    """The console script pip installed beside this Python (what users run)."""
    beside = Path(sys.executable).with_name("gguf-tui")
    found = str(beside) if beside.exists() else shutil.which("gguf-tui")
    if not found:
        raise RuntimeError("the gguf-tui command is not installed: pip install -e '.[test]'")
    return found


@dataclass
class Home:
    """A fresh user's home: XDG folders of its own, a models folder, no settings."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def data(self) -> Path:
        return self.root / ".local" / "share" / "gguf-tui"

    @property
    def config(self) -> Path:
        return self.root / ".config" / "gguf-tui"

    @property
    def database(self) -> Path:
        return self.data / "conversations.sqlite3"

    def query(self, sql: str, *params: object) -> list[tuple]:
        """Rows from the app's database, opened read-only (never created by a test)."""
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def sent(self) -> list[str]:
        """Every user message saved, oldest first."""
        return [
            r[0] for r in self.query("SELECT content FROM messages WHERE role = 'user' ORDER BY id")
        ]

    def env(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "GGUF_TUI_TEST_CACHE", "PYTHONPATH", "TMPDIR")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env.update(
            HOME=str(self.root),
            XDG_CONFIG_HOME=str(self.root / ".config"),
            XDG_DATA_HOME=str(self.root / ".local" / "share"),
            XDG_CACHE_HOME=str(self.root / ".cache"),
            XDG_STATE_HOME=str(self.root / ".local" / "state"),
            TERM="xterm-256color",
            COLORTERM="truecolor",
            HF_HUB_OFFLINE="1",
            HF_HUB_DISABLE_TELEMETRY="1",
        )
        env.setdefault("LANG", "C.UTF-8")
        env.update(self.extra_env)
        return env

    def add_model(self, source: Path, name: str | None = None) -> Path:
        """Put a model in ~/models as a user would have it (a hard link: no copy cost)."""
        self.models.mkdir(parents=True, exist_ok=True)
        target = self.models / (name or source.name)
        if not target.exists():
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)
        return target


class Terminal:
    """One `gguf-tui` process in a pty of `cols` x `rows`, and the screen it drew."""

    def __init__(
        self,
        home: Home,
        *args: object,
        cols: int = 80,
        rows: int = 24,
        cwd: Path | None = None,
    ) -> None:
        self.home = home
        self.screen = pyte.Screen(cols, rows)
        self._stream = pyte.ByteStream(self.screen)
        self._lock = threading.Lock()
        self.raw = bytearray()  # every byte the app wrote, for checks on what reached it
        home.root.mkdir(parents=True, exist_ok=True)
        self.proc = ptyprocess.PtyProcess.spawn(
            [gguf_tui_command(), *map(str, args)],
            env=home.env(),
            cwd=str(cwd or home.root),
            dimensions=(rows, cols),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- what the app writes ------------------------------------------------------------------
    def _read(self) -> None:
        while True:
            try:
                data = self.proc.read(65536)
            except (EOFError, OSError, ValueError):  # ValueError: kill() closed the pty
                return
            with self._lock:
                self.raw += data
                self._stream.feed(data)

    def text(self) -> str:
        """The screen as a user reads it, one line per row, trailing blanks cut."""
        with self._lock:
            return "\n".join(line.rstrip() for line in self.screen.display)

    def flat(self) -> str:
        """The screen as one string with runs of spaces collapsed: for phrases that wrap."""
        return re.sub(r"\s+", " ", self.text())

    def row(self, index: int) -> str:
        with self._lock:
            return self.screen.display[index].rstrip()

    def wait_for(
        self,
        what: str | Callable[[str], bool],
        timeout: float = 60.0,
        why: str = "",
    ) -> str:
        """Wait until the screen shows `what` (a phrase, or a test on the screen text)."""
        test = (
            (lambda s: what in s or what in re.sub(r"\s+", " ", s))
            if isinstance(what, str)
            else what
        )
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if test(screen):
                return screen
            if not self.proc.isalive():
                raise AssertionError(
                    f"gguf-tui exited ({self.proc.exitstatus}) waiting for {why or what!r}:\n"
                    f"{screen}\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {why or what!r}; the screen:\n{screen}"
                )
            time.sleep(0.05)

    def wait_gone(self, phrase: str, timeout: float = 30.0) -> str:
        return self.wait_for(lambda s: phrase not in s, timeout, f"{phrase!r} to go")

    def tail(self, n: int = 2000) -> str:
        with self._lock:
            return bytes(self.raw[-n:]).decode("utf-8", "replace")

    # -- what the user does -------------------------------------------------------------------
    def write(self, data: str | bytes) -> None:
        """One write: the app may read it in one go, as from a fast typist or ssh."""
        self.proc.write(data.encode() if isinstance(data, str) else data)

    def type_line(self, text: str) -> None:
        """The text and its Enter in one burst (what `tmux send-keys "…" Enter` does)."""
        self.write(text + ENTER)

    def paste(self, text: str) -> None:
        """A bracketed paste, with line breaks as terminals send them: CR."""
        body = text.replace("\r\n", "\n").replace("\n", "\r")
        self.write(PASTE_START + body + PASTE_END)

    def press(self, *keys: str) -> None:
        for key in keys:
            self.write(KEYS.get(key, key))
            time.sleep(0.05)  # separate key presses, as a person makes them

    def resize(self, cols: int, rows: int) -> None:
        with self._lock:
            self.screen.resize(rows, cols)
        self.proc.setwinsize(rows, cols)  # the kernel sends SIGWINCH to the app

    def quit(self, timeout: float = 30.0) -> int:
        """ctrl+q, and wait for the process to end; its exit status."""
        if self.proc.isalive():
            self.write(CTRL_Q)
        deadline = time.monotonic() + timeout
        while self.proc.isalive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.proc.isalive():
            raise AssertionError(f"gguf-tui did not quit within {timeout}s:\n{self.text()}")
        self._reader.join(5)
        status = self.proc.exitstatus if self.proc.exitstatus is not None else -1
        if status != 0:  # what the app printed on leaving (a traceback?) for the report
            print(f"gguf-tui exited {status}; its last output:\n{self.after_exit()}")
        return status

    def after_exit(self) -> str:
        """What the app wrote after leaving the alternate screen (plain text)."""
        raw = bytes(self.raw)
        tail = raw[raw.rfind(b"\x1b[?1049l") :] if b"\x1b[?1049l" in raw else raw[-4000:]
        return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", tail.decode("utf-8", "replace"))

    def restored(self) -> bool:
        """The terminal was given back: alternate screen left, mouse reporting off."""
        raw = bytes(self.raw)
        left_alt = raw.rfind(b"\x1b[?1049l") > raw.rfind(b"\x1b[?1049h")
        mouse_off = raw.rfind(b"\x1b[?1000l") >= raw.rfind(b"\x1b[?1000h")
        return left_alt and mouse_off

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            if self.proc.isalive():
                self.proc.kill(signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.close(force=True)


@contextlib.contextmanager
def launched(home: Home, *args: object, cols: int = 80, rows: int = 24) -> Iterator[Terminal]:
    """`gguf-tui ARGS` in a terminal; killed at the end if the test did not quit it."""
    term = Terminal(home, *args, cols=cols, rows=rows)
    try:
        yield term
    finally:
        term.kill()
