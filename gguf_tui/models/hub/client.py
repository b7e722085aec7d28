"""How gguf-tui talks to the Hub: settings read at call time, and a client that cannot hang.

huggingface_hub reads HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN and HF_HUB_OFFLINE once,
at import. gguf-tui reads them on every call (`HubEnv.from_environ`) and passes endpoint,
cache folder and token explicitly, so a changed environment (a test's loopback server, a
token set after start-up) takes effect.

Two library behaviours are changed, process-wide, the first time the Hub is used:

- Listing calls have no timeout, and every call retries timeouts and refused connections
  five times with back-off, so a stalled or absent server costs minutes. The HTTP client
  installed here (`set_client_factory`) puts a timeout on every request (`GGUF_TUI_HUB_TIMEOUT`
  seconds without a byte, default 30) and turns a timeout or a refused connection into a
  `HubTimeout` / `HubUnreachable` that the library does not retry.
- Xet transfers are switched off (as `HF_HUB_DISABLE_XET=1` would): their Rust transfer
  ignores an exception raised from the progress bar, so they could not be cancelled. Files
  come over plain HTTP instead, which every Hub file supports.
- Bodies are read in 256 KiB chunks instead of 10 MB, so progress and cancel keep up on
  a slow connection.

The same client is the one boundary against a hostile or broken Hub (or mirror, or proxy):

- Time: besides the timeout per read, every step has a deadline (`GGUF_TUI_HUB_DEADLINE`
  seconds, default 60) from its first request to its last byte: a listing (the repository's
  info and every page of its files), a search, the header probe, each file's metadata. A
  file transfer has none (it may take hours) but stops at once (within `POLL` seconds) when
  its download is cancelled, even while no byte arrives. Both are enforced in the socket
  reads (a wrapped network backend), so a server that sends one byte every few seconds
  cannot keep a request alive, and a redirect loop ends after `MAX_REDIRECTS`.
- Memory: an answer the app reads itself (anything but a file's body) is cut off after
  `MAX_BODY` bytes; a file's body after the size the Hub gave for it. Compressed bodies are
  inflated here, piece by piece and counted after inflating, so a compressed bomb costs
  no more than a plain answer; an encoding other than gzip or deflate is refused.
- Paths: a file answer's ETag and commit become paths in the cache inside huggingface_hub;
  one that is not a Hub hash is refused before the library sees it (`check_file_answer`).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf_tui.models.hub.errors import (
    DownloadCancelled,
    HubError,
    HubServerError,
    HubTimeout,
    HubUnreachable,
    UnsafeHubAnswer,
    quoted,
    translate,
)

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT = 30.0
DEFAULT_DEADLINE = 60.0  # seconds for one step: a listing, a search, a file's metadata
MAX_BODY = 4 << 20  # bytes of one answer the app reads itself (after inflating)
MAX_REDIRECTS = 10
POLL = 0.2  # seconds: how often a read that waits looks at the deadline and at cancel
MIN_RATE = 1024  # bytes a second a file transfer must average over each deadline window
_ETAG = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_COMMIT = re.compile(r"[0-9a-fA-F]{40}")
# huggingface_hub reads the body in 10 MB pieces: at 1 MB/s, 10 s between progress
# updates and before a cancel is noticed. A quarter megabyte costs nothing in overhead.
CHUNK_SIZE = 256 * 1024
_TRUE = {"1", "ON", "YES", "TRUE"}

_timeout: contextvars.ContextVar[float | None] = contextvars.ContextVar("hub_timeout", default=None)
_offline: contextvars.ContextVar[bool | None] = contextvars.ContextVar("hub_offline", default=None)
_install_lock = threading.Lock()
_installed = False


@dataclass(frozen=True, slots=True)
class HubEnv:
    """The Hub settings in force for one call, read from the environment."""

    endpoint: str
    cache_dir: Path
    token: str | None
    offline: bool
    timeout: float
    deadline: float = DEFAULT_DEADLINE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HubEnv:
        env = os.environ if environ is None else environ
        home = env.get("HF_HOME") or str(
            Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
        )
        home_path = Path(os.path.expandvars(home)).expanduser()
        cache = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
        cache_dir = Path(os.path.expandvars(cache)).expanduser() if cache else home_path / "hub"
        return cls(
            endpoint=(env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/"),
            cache_dir=cache_dir,
            token=_token(env, home_path),
            offline=_env_offline(env),
            timeout=_float(env.get("GGUF_TUI_HUB_TIMEOUT"), DEFAULT_TIMEOUT),
            deadline=_float(env.get("GGUF_TUI_HUB_DEADLINE"), DEFAULT_DEADLINE),
        )


def _env_offline(env: Mapping[str, str]) -> bool:
    return any(
        (env.get(k) or "").strip().upper() in _TRUE
        for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _float(value: str | None, default: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if number > 0 else default


def _token(env: Mapping[str, str], home: Path) -> str | None:
    """HF_TOKEN, else the token `hf auth login` stored; None means anonymous."""
    for key in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if value := (env.get(key) or "").strip():
            return value
    path = Path(env.get("HF_TOKEN_PATH") or home / "token").expanduser()
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


@dataclass(slots=True)
class _Step:
    """What the requests of one `hub_session` are allowed: read by the transport."""

    timeout: float  # seconds without a byte
    deadline: float  # seconds per request, from its start to its last byte
    ends: float | None  # the step's own end (time.monotonic()); None for a file transfer
    transfer: int | None  # a file transfer: its body may be this long (0: size unknown)
    cancel: threading.Event | None


_step: contextvars.ContextVar[_Step | None] = contextvars.ContextVar("hub_step", default=None)
# The limits of the request this thread is reading now, for the network streams (which are
# shared between the threads of the pool but read by one request, in its thread, at a time).
_reading = threading.local()


@contextlib.contextmanager
def hub_session(
    env: HubEnv,
    *,
    repo_id: str | None = None,
    filename: str | None = None,
    transfer: int | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[None]:
    """Run huggingface_hub calls under `env`; every failure comes out as a HubError.

    The calls inside are one step: all of them end within `env.deadline` seconds. With
    `transfer` (the file's size, 0 if unknown) they download a file: each request still
    has the deadline until its answer's headers, but a file's body only the timeout per
    read, and at most `transfer` bytes. `cancel` stops any read within `POLL` seconds.
    """
    from huggingface_hub import constants

    _install_client()
    constants.HF_HUB_OFFLINE = env.offline  # the library's own request hook reads it
    constants.HF_HUB_DISABLE_XET = True
    constants.DOWNLOAD_CHUNK_SIZE = CHUNK_SIZE
    ends = None if transfer is not None else time.monotonic() + env.deadline
    reset = _timeout.set(env.timeout)
    reset_offline = _offline.set(env.offline)
    reset_step = _step.set(_Step(env.timeout, env.deadline, ends, transfer, cancel))
    try:
        yield
    except HubError:
        raise
    except Exception as exc:
        error = translate(exc, repo_id=repo_id, endpoint=env.endpoint, filename=filename)
        if error is None:
            raise
        raise error from exc
    finally:
        _timeout.reset(reset)
        _offline.reset(reset_offline)
        _step.reset(reset_step)


def check_file_answer(name: str, etag: Any, commit: Any, origin: str) -> None:
    """Refuse a file's ETag that is not 40 or 64 hex digits (quotes and `W/` aside) and a
    commit that is not 40 hex: huggingface_hub makes paths in the cache of both."""
    if etag is None:
        raise UnsafeHubAnswer(
            f"refusing to download {quoted(name)}: {origin} did not say which version it "
            "serves (no ETag header); is HF_ENDPOINT a Hugging Face Hub?"
        )
    tag = etag.strip() if isinstance(etag, str) else etag
    if isinstance(tag, str):
        tag = tag.removeprefix("W/").strip('"')
    if not isinstance(tag, str) or not _ETAG.fullmatch(tag):
        raise UnsafeHubAnswer(
            f"refusing to download {quoted(name)}: {origin} gave it the ETag {quoted(etag)}, "
            "which is not a file hash (40 or 64 hex digits); nothing was written"
        )
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise UnsafeHubAnswer(
            f"refusing to download {quoted(name)}: {origin} gave the commit {quoted(commit)}, "
            "which is not a commit hash (40 hex digits); nothing was written"
        )


def check_commit(commit: Any, origin: str, what: str) -> None:
    """A commit the Hub reported: None, or 40 hex digits (it becomes a folder name)."""
    if commit is not None and (not isinstance(commit, str) or not _COMMIT.fullmatch(commit)):
        raise UnsafeHubAnswer(
            f"refusing {what}: {origin} gave the commit {quoted(commit)}, which is not a "
            "commit hash (40 hex digits); nothing was written"
        )


def is_safe_path(name: Any) -> bool:
    """A repository path that stays inside the folder it is joined to, on any system:
    `/`-separated, relative, no `..` or empty part, no backslash, no drive, no control."""
    if not isinstance(name, str) or not name or len(name) > 1000:
        return False
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name) or "\\" in name:
        return False
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _install_client() -> None:
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        import httpx2
        from huggingface_hub.errors import OfflineModeIsEnabled
        from huggingface_hub.utils import _http

        def request_hook(request: Any) -> Any:
            # Outside hub_session (another user of huggingface_hub in this process) the
            # environment decides, whatever value the library's constant was last given.
            offline = _offline.get()
            if offline if offline is not None else _env_offline(os.environ):
                raise OfflineModeIsEnabled(f"Cannot reach {request.url}: offline mode is on")
            return _http.hf_request_event_hook(request)

        guarded = _guard_class(httpx2)

        def factory() -> Any:
            client = httpx2.Client(
                event_hooks={"request": [request_hook]},
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                timeout=None,
            )
            # Wrap the transports the client built rather than passing `transport=`, which
            # would make httpx ignore HTTP(S)_PROXY / NO_PROXY from the environment.
            client._transport = guarded(client._transport)
            client._mounts = {
                pattern: None if transport is None else guarded(transport)
                for pattern, transport in client._mounts.items()
            }
            return client

        _http.set_client_factory(factory)
        _installed = True


@dataclass(slots=True)
class _Limits:
    """What the request being read in this thread may still take."""

    ends: float | None  # time.monotonic() by which its last byte must be in
    cancel: threading.Event | None
    seconds: float = DEFAULT_DEADLINE  # the deadline, for the message


def _limits() -> _Limits | None:
    return getattr(_reading, "limits", None)


def _wait_slices(timeout: float | None, limits: _Limits | None) -> Iterator[float]:
    """Seconds to wait for one read, in slices of at most POLL between which the cancel
    flag and the deadline are looked at; ends (the caller raises a timeout) when either
    the timeout or the deadline is spent."""
    began = time.monotonic()
    while True:
        if limits is not None and limits.cancel is not None and limits.cancel.is_set():
            raise DownloadCancelled("download cancelled")
        now = time.monotonic()
        left = [POLL if limits is not None else 1e9]
        if timeout is not None:
            left.append(timeout - (now - began))
        if limits is not None and limits.ends is not None:
            left.append(limits.ends - now)
        wait = min(left)
        if wait <= 0:
            return
        yield wait


_backend_class: type | None = None


def _deadline_backend() -> type:
    """The network backend class whose connections obey deadlines (made once)."""
    global _backend_class
    if _backend_class is None:
        import httpcore2

        _backend_class = _make_backend_class(httpcore2)
    return _backend_class


def _make_backend_class(httpcore2: Any) -> type:
    class DeadlineStream(httpcore2.NetworkStream):
        """A connection whose reads obey the current request's deadline and cancel."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            for wait in _wait_slices(timeout, _limits()):
                try:
                    return self.inner.read(max_bytes, wait)
                except httpcore2.ReadTimeout:
                    continue
            raise httpcore2.ReadTimeout("timed out")

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            limits = _limits()
            if limits is not None and limits.ends is not None:
                left = limits.ends - time.monotonic()
                timeout = left if timeout is None else min(timeout, left)
                if timeout <= 0:
                    raise httpcore2.WriteTimeout("timed out")
            self.inner.write(buffer, timeout)

        def close(self) -> None:
            self.inner.close()

        def start_tls(self, *args: Any, **kwargs: Any) -> Any:
            return DeadlineStream(self.inner.start_tls(*args, **kwargs))

        def get_extra_info(self, info: str) -> Any:
            return self.inner.get_extra_info(info)

    class DeadlineBackend(httpcore2.NetworkBackend):
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def connect_tcp(self, host: str, port: int, timeout: float | None = None, **kw: Any):
            limits = _limits()
            if limits is not None and limits.ends is not None:
                left = max(0.001, limits.ends - time.monotonic())
                timeout = left if timeout is None else min(timeout, left)
            return DeadlineStream(self.inner.connect_tcp(host, port, timeout, **kw))

        def connect_unix_socket(self, path: str, timeout: float | None = None, **kw: Any):
            return DeadlineStream(self.inner.connect_unix_socket(path, timeout, **kw))

        def sleep(self, seconds: float) -> None:
            self.inner.sleep(seconds)

    return DeadlineBackend


def _wrap_backend(transport: Any) -> None:
    """Put the deadline backend under an httpx transport's connection pool (all kinds of
    pool keep it in `_network_backend` and use it for every new connection)."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    deadline_backend = _deadline_backend()
    if pool is not None and backend is not None and not isinstance(backend, deadline_backend):
        pool._network_backend = deadline_backend(backend)


def _guard_class(httpx2: Any) -> type:
    class BodyGuard(httpx2.SyncByteStream):
        """A response body: inflated here, counted, held to the deadline; its read timeout
        ends the step instead of a retry loop."""

        def __init__(self, inner: Any, url: str, limits: _Limits, budget: int | None,
                     encoding: str, timeout: float, what: str) -> None:  # fmt: skip
            self.inner, self.url, self.limits, self.budget = inner, url, limits, budget
            self.encoding, self.timeout, self.what = encoding, timeout, what

        def __iter__(self) -> Iterator[bytes]:
            inflate = _inflater(self.encoding)
            count = 0
            window, window_count = time.monotonic(), 0
            try:
                for chunk in self._raw():
                    if self.limits.ends is None:  # a file: slower than MIN_RATE is a stall
                        now = time.monotonic()
                        if now - window >= self.limits.seconds:
                            if count - window_count < MIN_RATE * (now - window):
                                raise _crawling(self.url, self.limits.seconds)
                            window, window_count = now, count
                    for piece in inflate(chunk) if inflate else (chunk,):
                        count += len(piece)
                        if self.budget is not None and count > self.budget:
                            raise _too_big(self.url, self.budget, self.what)
                        yield piece
                if inflate:
                    for piece in inflate(None):
                        count += len(piece)
                        if self.budget is not None and count > self.budget:
                            raise _too_big(self.url, self.budget, self.what)
                        yield piece
            except zlib.error:
                raise HubServerError(
                    f"{_origin(self.url)} sent a {self.encoding} answer that does not inflate "
                    "(a broken server or proxy)"
                ) from None

        def _raw(self) -> Iterator[bytes]:
            iterator = iter(self.inner)
            while True:
                _reading.limits = self.limits
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
                except httpx2.TimeoutException:
                    raise _timed_out(self.url, self.timeout, self.limits) from None
                except (httpx2.NetworkError, httpx2.RemoteProtocolError) as exc:
                    broke = f"the connection to {_origin(self.url)} broke ({exc})"
                    raise HubUnreachable(broke) from None
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class GuardedTransport(httpx2.BaseTransport):
        """Every request gets the timeout, the deadline and the body budget; a timeout or
        refused connection is not retried; a file answer's ETag and commit are checked."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner
            _wrap_backend(inner)

        def handle_request(self, request: Any) -> Any:
            step = _step.get()
            limit = (
                step.timeout
                if step is not None
                else _float(os.environ.get("GGUF_TUI_HUB_TIMEOUT"), DEFAULT_TIMEOUT)
            )
            deadline = (
                step.deadline
                if step is not None
                else _float(os.environ.get("GGUF_TUI_HUB_DEADLINE"), DEFAULT_DEADLINE)
            )
            now = time.monotonic()
            ends = now + deadline
            if step is not None and step.ends is not None:
                ends = min(ends, step.ends)
            limits = _Limits(ends, step.cancel if step is not None else None, deadline)
            url = str(request.url)
            if now >= ends:
                raise _timed_out(url, limit, limits)
            phases = ("connect", "read", "write", "pool")
            request.extensions["timeout"] = dict.fromkeys(phases, limit)
            if request.headers.get("Accept-Encoding", "").strip().lower() != "identity":
                request.headers["Accept-Encoding"] = "gzip, deflate"
            _reading.limits = limits
            try:
                response = self.inner.handle_request(request)
            except httpx2.TimeoutException:
                raise _timed_out(url, limit, limits) from None
            except httpx2.ConnectError as exc:
                raise HubUnreachable(f"cannot reach {_origin(url)} ({exc})") from None
            except httpx2.RemoteProtocolError as exc:
                raise HubUnreachable(f"the connection to {_origin(url)} broke ({exc})") from None
            try:
                self._check(request, response, url)
                encoding = _encoding(response, url)
            except BaseException:
                response.close()
                raise
            file_body = (
                step is not None
                and step.transfer is not None
                and request.method == "GET"
                and 200 <= response.status_code < 300
            )
            if file_body:
                body_limits = _Limits(None, limits.cancel, deadline)  # a file may take hours
                budget = (step.transfer if step is not None else None) or None
                what = "the file's size"
            else:
                body_limits, budget, what = limits, MAX_BODY, "one answer"
            response.stream = BodyGuard(
                response.stream, url, body_limits, budget, encoding, limit, what
            )
            return response

        @staticmethod
        def _check(request: Any, response: Any, url: str) -> None:
            if "/resolve/" not in request.url.path:
                return
            headers = response.headers
            origin = _origin(url)
            name = request.url.path.split("/resolve/", 1)[1].partition("/")[2]
            commit = headers.get("X-Repo-Commit")
            if commit is not None:
                check_commit(commit, origin, f"to download {quoted(name)}")
            location = headers.get("Location") or ""
            relative = response.is_redirect and location.startswith("/")
            if request.method == "HEAD" and response.status_code < 400 and not relative:
                etag = headers.get("X-Linked-Etag") or headers.get("ETag")
                if etag is not None:  # none at all: the library says the answer lacks it
                    check_file_answer(name, etag, commit, origin)

        def close(self) -> None:
            self.inner.close()

    return GuardedTransport


def _encoding(response: Any, url: str) -> str:
    """The body's content coding, taken off the response (it is undone here, counted)."""
    raw = response.headers.get("Content-Encoding", "")
    coding = ",".join(c.strip().lower() for c in raw.split(",") if c.strip())
    if coding in ("", "identity"):
        return ""
    if coding in ("gzip", "x-gzip", "deflate"):
        del response.headers["Content-Encoding"]
        return coding
    raise HubServerError(
        f"{_origin(url)} sent its answer in an encoding gguf-tui does not read "
        f"({quoted(raw[:40])}; gzip and deflate are)"
    )


def _inflater(encoding: str) -> Any:
    """A function that inflates a chunk (None: the end) into pieces of at most CHUNK_SIZE."""
    if not encoding:
        return None
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    state: dict[str, Any] = {"d": zlib.decompressobj(wbits), "first": True}

    def inflate(chunk: bytes | None) -> Iterator[bytes]:
        d = state["d"]
        if chunk is None:
            if tail := d.flush():
                yield tail
            return
        if state["first"] and encoding == "deflate":
            state["first"] = False
            try:  # deflate is zlib-wrapped by the standard, raw by some servers
                piece = d.decompress(chunk, CHUNK_SIZE)
            except zlib.error:
                d = state["d"] = zlib.decompressobj(-zlib.MAX_WBITS)
                piece = d.decompress(chunk, CHUNK_SIZE)
        else:
            piece = d.decompress(chunk, CHUNK_SIZE)
        while True:
            if piece:
                yield piece
            if not d.unconsumed_tail:
                return
            piece = d.decompress(d.unconsumed_tail, CHUNK_SIZE)

    return inflate


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _timed_out(url: str, limit: float, limits: _Limits | None) -> HubTimeout:
    if limits is not None and limits.ends is not None and time.monotonic() >= limits.ends:
        return HubTimeout(
            f"{_origin(url)} is answering too slowly (gave up after {limits.seconds:g} s); "
            "try again later (GGUF_TUI_HUB_DEADLINE sets how long to wait)"
        )
    return _stalled(url, limit)


def _too_big(url: str, budget: int, what: str) -> HubServerError:
    from gguf_tui.models.units import format_bytes

    return HubServerError(
        f"{_origin(url)} sent more than {format_bytes(budget)} ({what}); gguf-tui stopped "
        "reading there (a broken server or proxy?)"
    )


def _crawling(url: str, seconds: float) -> HubTimeout:
    from gguf_tui.models.units import format_bytes

    return HubTimeout(
        f"{_origin(url)} sent the file at less than {format_bytes(MIN_RATE)}/s for "
        f"{seconds:g} s; try again later (GGUF_TUI_HUB_DEADLINE sets the window)"
    )


def _stalled(url: str, limit: float) -> HubTimeout:
    return HubTimeout(
        f"{_origin(url)} stopped answering (nothing for {limit:g} s); try again later "
        "(GGUF_TUI_HUB_TIMEOUT sets how long to wait)"
    )
