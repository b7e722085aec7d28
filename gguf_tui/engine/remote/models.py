"""What an OpenAI-compatible server serves: `GET /v1/models`, read tolerantly.

Servers add their own fields to the model list: llama-server a `meta` table
(training context, parameters, size), vLLM `max_model_len`. They are used when
present so a remote model shows as much as a local one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import httpx2

from gguf_tui.engine.local.chat_format import ChatFormatChoice
from gguf_tui.engine.model_info import ModelInfo
from gguf_tui.engine.remote.endpoint import Endpoint
from gguf_tui.engine.remote.errors import (
    ERROR_BODY_MAX,
    RemoteError,
    connect_error,
    status_error,
)
from gguf_tui.engine.remote.guard import CLOSED, DEADLINE, STOPPED, StreamGuard, read_capped
from gguf_tui.models.quant import quant_from_filename

LIST_TIMEOUT = 15.0  # the whole `GET /v1/models`, connecting included
LIST_MAX_BYTES = 4 * 1024 * 1024  # of the decoded body: ~20,000 models
MAX_FIGURE = 10**15  # a context, parameter count or size beyond this is not believed
SERVER_FORMAT = ChatFormatChoice("server", "server")  # the server applies its own template


def open_client(endpoint: Endpoint, read_timeout: float = LIST_TIMEOUT) -> httpx2.Client:
    """A client with the endpoint's time limits. No keep-alive: each request gets its own
    connection, so a stopped answer can be cut without touching the next one."""
    return httpx2.Client(
        timeout=httpx2.Timeout(read_timeout, connect=endpoint.connect_timeout),
        limits=httpx2.Limits(max_keepalive_connections=0),
        follow_redirects=True,
    )


@dataclass(frozen=True, slots=True)
class RemoteModel:
    """One model a server offers; `id` is what requests name."""

    endpoint: Endpoint
    id: str
    owned_by: str = ""
    n_ctx: int = 0  # the server's window when it says (vLLM), else 0
    n_ctx_train: int = 0  # llama-server's meta
    n_params: int = 0
    size_bytes: int = 0
    extra: dict = field(default_factory=dict, compare=False, repr=False)  # the raw entry

    @property
    def short_id(self) -> str:
        """A path-like id (llama_cpp.server uses the GGUF's path) shortened to its file."""
        if self.id.startswith(("/", "~")) or self.id.lower().endswith(".gguf"):
            return PurePosixPath(self.id).name
        return self.id

    @property
    def name(self) -> str:
        short = self.short_id
        return short[: -len(".gguf")] if short.lower().endswith(".gguf") else short

    @property
    def quant(self) -> str:
        return quant_from_filename(self.short_id) or "remote"

    @property
    def model_file(self) -> str:
        """The same label ModelInfo.model_file gives once the model is in use: the
        whole id (`org/model`), only a file path shortened to its file."""
        return f"{self.endpoint.host}/{self.short_id}"

    def matches(self, wanted: str) -> bool:
        """`wanted` names this model: its id, its file name, or that name without .gguf."""
        w = wanted.strip()
        return w in (self.id, self.short_id, self.name) or w.lower() == self.name.lower()


def _int(value: object) -> int:
    """A count the server gives, or 0 when it is no sane number (inf, NaN, negative)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return int(value) if 0 < value < MAX_FIGURE else 0


def parse_json(data: bytes) -> object:
    """JSON from a server, or ValueError: bad UTF-8, bad syntax, nesting too deep."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _entry(endpoint: Endpoint, item: dict) -> RemoteModel | None:
    model_id = item.get("id") or item.get("model") or item.get("name")
    if not isinstance(model_id, str) or not model_id:
        return None
    meta = item.get("meta")
    if not isinstance(meta, dict):  # llama-server's extra facts, when present
        meta = {}
    return RemoteModel(
        endpoint=endpoint,
        id=model_id,
        owned_by=str(item.get("owned_by") or ""),
        n_ctx=_int(item.get("max_model_len")),
        n_ctx_train=_int(meta.get("n_ctx_train")),
        n_params=_int(meta.get("n_params")),
        size_bytes=_int(meta.get("size")),
        extra=item,
    )


def list_remote_models(
    endpoint: Endpoint,
    client: httpx2.Client | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[RemoteModel]:
    """Every model the server lists, in its order. Raises RemoteError (an EngineError)
    with a message for the user when the server cannot be reached or refuses.

    The whole request has LIST_TIMEOUT seconds and its body LIST_MAX_BYTES;
    `cancelled()` (polled) or `guard.cut_all()` ends it at once."""
    own = client is None
    client = client or open_client(endpoint)
    url = endpoint.api("models")
    try:
        with StreamGuard(cancelled) as guard:
            guard.arm(LIST_TIMEOUT, DEADLINE)
            status, body, more, retry = _get(client, endpoint, url, guard)
    finally:
        if own:
            client.close()
    if status >= 400:
        raise status_error(endpoint, status, body.decode("utf-8", "replace"), retry, url)
    if more:
        raise RemoteError(
            f"{endpoint.label} sent a model list over {LIST_MAX_BYTES // 2**20} MiB; "
            "stopped reading it (is it an OpenAI-compatible API?)"
        )
    try:
        data = parse_json(body)
    except ValueError:
        raise RemoteError(
            f"{url} did not answer with a model list (is it an OpenAI-compatible API?)"
        ) from None
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise RemoteError(f"{url} did not answer with a model list (no 'data' array)")
    return [m for item in items if isinstance(item, dict) and (m := _entry(endpoint, item))]


def _get(
    client: httpx2.Client, endpoint: Endpoint, url: str, guard: StreamGuard
) -> tuple[int, bytes, bool, str | None]:
    """(status, the body up to its cap, whether there was more, Retry-After)."""
    try:
        with client.stream(
            "GET",
            url,
            headers=endpoint.headers(),
            timeout=httpx2.Timeout(LIST_TIMEOUT, connect=endpoint.connect_timeout),
            extensions={"trace": guard.trace},
        ) as response:
            cap = ERROR_BODY_MAX if response.status_code >= 400 else LIST_MAX_BYTES
            body, more = read_capped(response, cap)
            return response.status_code, body, more, response.headers.get("retry-after")
    except httpx2.ConnectTimeout as exc:
        raise connect_error(endpoint, exc, timed_out=True) from None
    except httpx2.ConnectError as exc:
        if guard.reason is None:
            raise connect_error(endpoint, exc) from None
        raise _cut(endpoint, guard.reason) from None
    except httpx2.TimeoutException:
        raise _cut(endpoint, guard.reason or DEADLINE) from None
    except httpx2.TooManyRedirects:
        raise RemoteError(f"{endpoint.label} redirected the model list in a loop") from None
    except httpx2.DecodingError:
        raise RemoteError(
            f"{endpoint.label} sent a model list that could not be decoded "
            "(a broken compressed body)"
        ) from None
    except httpx2.HTTPError as exc:
        if guard.reason is not None:
            raise _cut(endpoint, guard.reason) from None
        raise RemoteError(f"{endpoint.label} broke off the model list: {exc}") from None


def _cut(endpoint: Endpoint, reason: str) -> RemoteError:
    if reason in (STOPPED, CLOSED):
        return RemoteError(f"asking {endpoint.label} for its models was cancelled")
    return RemoteError(f"{endpoint.label} did not list its models within {LIST_TIMEOUT:g} s")


def remote_model_info(
    model: RemoteModel, load_seconds: float, notes: tuple[str, ...] = ()
) -> ModelInfo:
    """The ModelInfo of a model on a server: no file, its id, and its host."""
    return ModelInfo(
        model_id=model.short_id,  # what messages record: `org/model` whole, a path's file
        path=None,
        name=model.name,
        architecture="remote",
        quant=model.quant,
        n_params=model.n_params,
        size_bytes=model.size_bytes,
        n_ctx=model.n_ctx,
        n_ctx_train=model.n_ctx_train,
        chat_format=SERVER_FORMAT,
        n_layers=0,
        gpu_layers=0,
        gpu_supported=False,
        n_threads=0,
        load_seconds=load_seconds,
        notes=notes,
        server=model.endpoint.host,
    )


def pick_model(endpoint: Endpoint, models: list[RemoteModel], wanted: str) -> RemoteModel:
    """The model `wanted` names, or the server's only one when nothing is named."""
    if not wanted:
        if len(models) == 1:
            return models[0]
        if not models:
            raise RemoteError(f"{endpoint.label} lists no models: has it loaded one?")
        raise RemoteError(
            f"{endpoint.label} serves {len(models)} models; choose one with --api-model: "
            + ", ".join(m.id for m in models)
        )
    found = [m for m in models if m.matches(wanted)]
    if len(found) == 1 or (found and found[0].id == wanted):
        return found[0]
    offered = ", ".join(m.id for m in models) or "none"
    raise RemoteError(f"{endpoint.label} has no model '{wanted}'; it serves: {offered}")
