"""llama-cpp-python's own OpenAI-compatible server, started by a test on 127.0.0.1.

`python -m llama_cpp.server` needs the `llama-cpp-python[server]` extra (fastapi,
uvicorn, sse-starlette, starlette-context, pydantic-settings). The server is
always stopped: `stop()` terminates it, then kills it if it lingers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

START_TIMEOUT = 120.0


def free_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_server_extra() -> None:
    for name in ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"):
        pytest.importorskip(name, reason="needs llama-cpp-python[server] (the test extra)")


class LlamaServer:
    def __init__(self, model: Path, api_key: str | None = None, n_ctx: int = 1024) -> None:
        self.model = model
        self.api_key = api_key
        self.port = free_port()
        self.n_ctx = n_ctx
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaServer:
        cmd = [
            sys.executable,
            "-c",
            # The same CPU work-around the app's engine applies (engine/local/cpu_quirks.py):
            # without it llama.cpp segfaults on AMX machines.
            "import runpy, llama_cpp.llama_cpp as lib;"
            " from gguf_tui.engine.local import cpu_quirks; cpu_quirks.apply(lib);"
            " runpy.run_module('llama_cpp.server', run_name='__main__')",
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--verbose",
            "False",
        ]
        if self.api_key:
            cmd += ["--api_key", self.api_key]
        # A pipe nobody reads would fill up and block the server: log to a file.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                err = self.log.read().decode(errors="replace")
                raise RuntimeError(f"llama_cpp.server exited: {err[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/models", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers (401 without a key): it is up
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("llama_cpp.server did not start in time")

    def kill(self) -> None:
        """Die at once, mid-answer if one is being written."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
