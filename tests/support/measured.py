"""Run the command line in a subprocess and measure it: exit status, output, wall time and
the child's peak resident memory (VmHWM from /proc/PID/status while it runs, and the
kernel's ru_maxrss when it is reaped; the larger of the two)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from tests.support.cli import ROOT


@dataclass
class Measured:
    rc: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    wall: float  # seconds
    peak_kib: int  # peak resident set size

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024


def _vm_hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_measured(
    *args: object,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    interrupt_after: float | None = None,
) -> Measured:
    """`python -m gguf_tui ARGS`; `interrupt_after` seconds in, send it SIGINT (Ctrl+C)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gguf_tui", *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        peak, rc, interrupted = 0, None, False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                peak = max(peak, usage.ru_maxrss)
                proc.returncode = rc  # reaped here: keep Popen from waiting again
                break
            peak = max(peak, _vm_hwm(proc.pid))
            now = time.monotonic() - began
            if interrupt_after is not None and not interrupted and now >= interrupt_after:
                os.kill(proc.pid, signal.SIGINT)
                interrupted = True
            if now > timeout:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                peak = max(peak, usage.ru_maxrss)
                break
            time.sleep(0.02)
        wall = time.monotonic() - began
        out.seek(0)
        err.seek(0)
        return Measured(
            rc,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            wall,
            peak,
        )
