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
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf_tui.models.hub_errors import HubError, HubTimeout, HubUnreachable, translate

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT = 30.0
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


@contextlib.contextmanager
def hub_session(
    env: HubEnv, *, repo_id: str | None = None, filename: str | None = None
) -> Iterator[None]:
    """Run huggingface_hub calls under `env`; every failure comes out as a HubError."""
    from huggingface_hub import constants

    _install_client()
    constants.HF_HUB_OFFLINE = env.offline  # the library's own request hook reads it
    constants.HF_HUB_DISABLE_XET = True
    constants.DOWNLOAD_CHUNK_SIZE = CHUNK_SIZE
    reset = _timeout.set(env.timeout)
    reset_offline = _offline.set(env.offline)
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
                event_hooks={"request": [request_hook]}, follow_redirects=True, timeout=None
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


def _guard_class(httpx2: Any) -> type:
    class StallGuard(httpx2.SyncByteStream):
        """A response body whose read timeout ends the download instead of a retry loop."""

        def __init__(self, inner: Any, url: str, limit: float) -> None:
            self.inner, self.url, self.limit = inner, url, limit

        def __iter__(self) -> Iterator[bytes]:
            try:
                yield from self.inner
            except httpx2.TimeoutException:
                raise _stalled(self.url, self.limit) from None
            except (httpx2.NetworkError, httpx2.RemoteProtocolError) as exc:
                broke = f"the connection to {_origin(self.url)} broke ({exc})"
                raise HubUnreachable(broke) from None

        def close(self) -> None:
            self.inner.close()

    class GuardedTransport(httpx2.BaseTransport):
        """Every request gets the timeout; a timeout or refused connection is not retried."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def handle_request(self, request: Any) -> Any:
            limit = _timeout.get() or _float(
                os.environ.get("GGUF_TUI_HUB_TIMEOUT"), DEFAULT_TIMEOUT
            )
            phases = ("connect", "read", "write", "pool")
            request.extensions["timeout"] = dict.fromkeys(phases, limit)
            url = str(request.url)
            try:
                response = self.inner.handle_request(request)
            except httpx2.TimeoutException:
                raise _stalled(url, limit) from None
            except httpx2.ConnectError as exc:
                raise HubUnreachable(f"cannot reach {_origin(url)} ({exc})") from None
            response.stream = StallGuard(response.stream, url, limit)
            return response

        def close(self) -> None:
            self.inner.close()

    return GuardedTransport


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _stalled(url: str, limit: float) -> HubTimeout:
    return HubTimeout(
        f"{_origin(url)} stopped answering (nothing for {limit:g} s); try again later "
        "(GGUF_TUI_HUB_TIMEOUT sets how long to wait)"
    )
