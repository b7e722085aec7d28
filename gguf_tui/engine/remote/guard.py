"""Cut a streaming HTTP answer from outside the thread that reads it.

The reading thread sits in a blocking `recv()` while a server reads a long
prompt, so neither a stop request nor our own time limits would be noticed
until the next byte. The guard learns the connection's socket when it is
opened (httpcore's documented `trace` extension reports the network stream)
and shuts it down when the reply is stopped or a deadline passes: the read
returns at once, and the server sees the disconnect and stops generating.

Every request to a server goes through a guard, so each has an overall deadline
(a server that sends one byte every few seconds never trips a per-read
timeout), and `cut_all()` closes every open connection at once: quitting never
waits on the network. `read_capped` reads a body up to a size and no further.
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
DEADLINE = "deadline"  # the request's overall time was up
CLOSED = "closed"  # the app is quitting, or the backend was closed
POLL_SECONDS = 0.05  # how quickly a stop request is noticed

_open: set[StreamGuard] = set()
_open_lock = threading.Lock()


def cut_all(reason: str = CLOSED) -> int:
    """Cut every request in flight in this process (quitting, Ctrl+C); how many."""
    with _open_lock:
        guards = list(_open)
    for guard in guards:
        guard.cut(reason)
    return len(guards)


def read_capped(response: Any, cap: int, keep_partial: bool = False) -> tuple[bytes, bool]:
    """At most `cap` bytes of the decoded body, and whether there was more. Decoding
    runs in bounded pieces (httpx2 decompresses at most 1 MiB at a time), so a small
    gzip bomb costs no more than the cap; the rest is never read. `keep_partial`: a
    read that fails half-way (cut, broken) returns what came, as if there was more."""
    parts: list[bytes] = []
    size = 0
    try:
        for piece in response.iter_bytes():
            parts.append(piece)
            size += len(piece)
            if size > cap:
                return b"".join(parts)[:cap], True
    except Exception:
        if not keep_partial:
            raise
        return b"".join(parts), True
    return b"".join(parts), False


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
        with _open_lock:
            _open.add(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with _open_lock:
            _open.discard(self)
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
