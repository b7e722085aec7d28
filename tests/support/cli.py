"""Running the command line as a user would: a subprocess, text in and out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def gguf_tui(
    *args: object,
    input: str | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """`python -m gguf_tui ARGS`; stdin is `input`, or empty (never the test's terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "gguf_tui", *map(str, args)],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
