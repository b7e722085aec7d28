"""Driving child processes and checking the database they leave behind."""

from __future__ import annotations

import selectors
import sqlite3
import subprocess
from pathlib import Path


def read_line(proc: subprocess.Popen, timeout: float = 30) -> str:
    """The child's next line, waiting at most `timeout` seconds for it."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            raise AssertionError(f"no output within {timeout}s: {proc.stderr.read()}")
    line = proc.stdout.readline()
    assert line, f"child ended: {proc.wait()} {proc.stderr.read()}"
    return line.strip()


def check_integrity(db: Path) -> None:
    """SQLite's own checks, the foreign keys, and the full-text index against its table."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()
