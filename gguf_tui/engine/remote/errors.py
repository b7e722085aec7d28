"""Turn what goes wrong between us and a server into one sentence a user can act on.

HTTP clients report a dead server as `[Errno 111] Connection refused` and a bad
key as a bare 401; users need "is the server running?" and "set the variable
that holds the key". Every message names the server and, where there is one,
the next thing to try.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime

from gguf_tui.engine.model_info import EngineError
from gguf_tui.engine.remote.endpoint import Endpoint

_MAX_DETAIL = 300
ERROR_BODY_MAX = 64 * 1024  # of an error body: the message is in its first lines
ERROR_BODY_SECONDS = 10.0  # to read it
_DNS_WORDS = ("name or service", "nodename", "name resolution", "getaddrinfo")


class RemoteError(EngineError):
    """A server could not be used; `status` is the HTTP status when there was one,
    `retry_after` the seconds the server asked us to wait (429/503)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def server_message(body: str) -> str:
    """The human part of an error body, whichever server wrote it.

    OpenAI, vLLM, Ollama and llama-server say `{"error": {"message": …}}`,
    older vLLM `{"message": …}`, FastAPI apps (llama_cpp.server) `{"detail": …}`.
    """
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    found: object = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            found = err.get("message")
        elif isinstance(err, str):
            found = err
        found = found or data.get("message") or data.get("detail")
        if isinstance(found, list):  # FastAPI validation errors
            found = "; ".join(str(d.get("msg", d) if isinstance(d, dict) else d) for d in found)
    elif text and not text.startswith("<"):  # plain text, not an HTML error page
        found = text.splitlines()[0]
    detail = " ".join(str(found or "").split())
    return detail if len(detail) <= _MAX_DETAIL else detail[: _MAX_DETAIL - 1] + "…"


def _wait_hint(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"; try again in {seconds:.0f} s" if seconds >= 1 else "; try again in a moment"


def status_error(
    endpoint: Endpoint,
    status: int,
    body: str = "",
    retry_after_header: str | None = None,
    url: str = "",
    model: str = "",
    truncated: bool = False,
) -> RemoteError:
    """A clear error for an HTTP status that is not a success. `truncated`: the body was
    longer than ERROR_BODY_MAX and only its start was read."""
    host = endpoint.label
    detail = "" if truncated and not body.lstrip().startswith("{") else server_message(body)
    if truncated:
        cut = f"its error body passed {ERROR_BODY_MAX // 1024} KiB and was not read further"
        detail = f"{detail} ({cut})" if detail else cut
    said = f": {detail}" if detail else ""
    wait = retry_after(retry_after_header)
    if status in (401, 403):
        if endpoint.has_credentials:
            message = (
                f"{host} refused the user name and password given in the URL (HTTP {status}{said})"
            )
        elif endpoint.api_key() is None:
            where = (
                f"${endpoint.api_key_env} is not set"
                if endpoint.api_key_env
                else "no key variable is configured"
            )
            message = (
                f"{host} needs an API key (HTTP {status}{said}) and {where}: put the key in "
                "an environment variable and name it with --api-key-env NAME "
                "(or api_key_env in config.toml)"
            )
        else:
            message = (
                f"{host} refused the API key in ${endpoint.api_key_env} (HTTP {status}{said}): "
                "check the key, or which variable --api-key-env names"
            )
    elif status == 404 and model and "model" in detail.lower():
        message = (
            f"{host} has no model '{model}'{said}. `gguf-tui list --server {endpoint.url}` "
            "shows the models it serves"
        )
    elif status == 404:
        message = (
            f"{url or endpoint.url} was not found on {host} (HTTP 404{said}): check the base URL; "
            "OpenAI-compatible servers usually serve their API under /v1"
        )
    elif status == 429:
        message = f"{host} is limiting requests (HTTP 429{said}){_wait_hint(wait)}"
    elif status == 503:
        message = f"{host} is busy or still loading its model (HTTP 503{said}){_wait_hint(wait)}"
    elif status >= 500:
        message = f"{host} failed to answer (HTTP {status}{said}); its own log says why"
    else:
        message = f"{host} rejected the request (HTTP {status}{said})"
    return RemoteError(message, status=status, retry_after=wait)


def connect_error(endpoint: Endpoint, exc: Exception, timed_out: bool = False) -> RemoteError:
    """The connection could not be made at all."""
    host = endpoint.label
    text = str(exc)
    lowered = text.lower()
    if timed_out:
        message = (
            f"{host} did not accept a connection within {endpoint.connect_timeout:g} s: "
            "is the machine up, and the port open to you?"
        )
    elif "refused" in lowered:
        message = (
            f"cannot reach {endpoint.url}: connection refused. Is the server running, and "
            "listening on that address and port? (see docs/remote.md)"
        )
    elif any(w in lowered for w in _DNS_WORDS):
        message = f"cannot find the host in {endpoint.url}: the name does not resolve"
    elif "ssl" in lowered or "certificate" in lowered:
        message = f"the secure connection to {host} failed: {text}"
    else:
        message = f"cannot connect to {endpoint.url}: {text or type(exc).__name__}"
    return RemoteError(message)


def first_byte_timeout(endpoint: Endpoint) -> RemoteError:
    return RemoteError(
        f"{endpoint.label} sent nothing for {endpoint.first_byte_timeout:g} s after the request. "
        "A big model may need longer to read a long prompt: raise --first-byte-timeout "
        "(or first_byte_timeout in config.toml)"
    )


def stalled(endpoint: Endpoint) -> RemoteError:
    return RemoteError(
        f"{endpoint.label} stopped sending for {endpoint.chunk_timeout:g} s in the middle of "
        "the answer; the part received is kept"
    )


def cut_off(endpoint: Endpoint, why: str = "") -> RemoteError:
    detail = f" ({why})" if why else ""
    return RemoteError(
        f"the connection to {endpoint.label} was lost in the middle of the answer{detail}; "
        "the part received is kept"
    )
