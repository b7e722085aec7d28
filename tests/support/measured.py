"""Run the command line in a subprocess and measure it: exit status, output, wall time and
the child's peak resident memory.

The command runs under a small Python wrapper that spawns it and reports the child's
ru_maxrss. Measuring the command as our own child would be wrong: Linux carries the
forking process's high-water RSS into the child's ru_maxrss across exec, so after the
suite has loaded a model in-process every child "peaks" at the test runner's size (CI
saw 722 MiB for a 40 MiB command). The wrapper is a few MiB, far under any bound."""

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


# argv: REPORT_PATH CMD...; writes "PID\n" once spawned, "MAXRSS_KIB\n" when reaped; forwards
# SIGINT to the child (a handler, not SIG_IGN, so the child gets Python's default again).
_WRAPPER = """
import os, resource, signal, subprocess, sys
report = open(sys.argv[1], "w")
child = subprocess.Popen(sys.argv[2:])
report.write(f"{child.pid}\\n"); report.flush()
signal.signal(signal.SIGINT, lambda *_: child.send_signal(signal.SIGINT))
rc = child.wait()
report.write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n"); report.flush()
if rc < 0:  # died by a signal: die by the same one, so the caller sees what the child did
    signal.signal(-rc, signal.SIG_DFL)
    os.kill(os.getpid(), -rc)
sys.exit(rc)
"""


def _report(path: str) -> list[int]:
    try:
        with open(path, encoding="ascii") as fh:
            return [int(line) for line in fh.read().split()]
    except (OSError, ValueError):
        return []


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
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as report,
    ):
        began = time.monotonic()
        command = [sys.executable, "-m", "gguf_tui", *map(str, args)]
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, report.name, *command],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # a timeout kills the wrapper and the command together
        )
        peak, rc, interrupted = 0, None, False
        while True:
            try:
                rc = proc.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                pass
            child = _report(report.name)
            if child:
                peak = max(peak, _vm_hwm(child[0]))
            now = time.monotonic() - began
            if interrupt_after is not None and not interrupted and now >= interrupt_after:
                os.kill(proc.pid, signal.SIGINT)  # the wrapper forwards it to the command
                interrupted = True
            if now > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = None
                break
        reported = _report(report.name)
        if rc is not None and len(reported) == 2:
            peak = max(peak, reported[1])
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
