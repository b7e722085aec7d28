"""Cut a streaming HTTP answer from outside the thread that reads it.

The reading thread sits in a blocking `recv()` while a server reads a long
prompt, so neither a stop request nor our own time limits would be noticed
until the next byte. The guard learns the connection's socket when it is
opened (httpcore's documented `trace` extension reports the network stream)
and shuts it down when the reply is stopped or a deadline passes: the read
returns at once, and the server sees the disconnect and stops generating.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

STOPPED = "stopped"
FIRST_BYTE = "first-byte"
STALLED = "stalled"
POLL_SECONDS = 0.05  # how quickly a stop request is noticed


class StreamGuard:
    """Watches one request: a stop request or the armed deadline cuts it."""

    def __init__(self, stop_requested: Callable[[], bool]) -> None:
        self._stop_requested = stop_requested
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reason: str | None = None
        self._deadline: float | None = None
        self._deadline_reason = FIRST_BYTE
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="gguf-tui-guard", daemon=True)

    # -- the reading thread's side --------------------------------------------------
    def __enter__(self) -> StreamGuard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(1.0)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: remember the socket as soon as it is connected."""
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            self._sock = sock
            if self._reason is not None:
                self._shutdown()

    def arm(self, seconds: float, reason: str) -> None:
        """Cut the connection unless `arm` is called again within `seconds`."""
        self._deadline = time.monotonic() + seconds
        self._deadline_reason = reason

    @property
    def reason(self) -> str | None:
        """Why the connection was cut, or None if it was not."""
        return self._reason

    # -- any thread --------------------------------------------------------------------
    def cut(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason
                self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is None:
            return
        with contextlib.suppress(OSError):  # already closed by the other side
            self._sock.shutdown(socket.SHUT_RDWR)

    def _watch(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            if self._stop_requested():
                self.cut(STOPPED)
                return
            deadline = self._deadline
            if deadline is not None and time.monotonic() >= deadline:
                self.cut(self._deadline_reason)
                return
