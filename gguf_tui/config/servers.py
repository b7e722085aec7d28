"""OpenAI-compatible servers named in config.toml, and `--server` on the command line.

```toml
server = "home"                       # optional: used when no MODEL is given

[servers.home]
url = "http://192.168.1.20:8080/v1"
model = "qwen2.5-7b-instruct"         # optional: the server's only model otherwise
api_key_env = "HOME_LLM_KEY"          # optional: the *name* of the variable with the key
first_byte_timeout = 120              # optional, seconds (default 60)
```

Only the name of the environment variable that holds a key is ever written in
the file, never the key. Kept apart from config.py because the table is
nested (Settings holds flat values) and only the server commands need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gguf_tui.engine.remote.endpoint import (
    CHUNK_TIMEOUT,
    DEFAULT_API_KEY_ENV,
    FIRST_BYTE_TIMEOUT,
    Endpoint,
    EndpointError,
    normalise_url,
)

SERVERS_KEY = "servers"
DEFAULT_KEY = "server"


class ServerConfigError(Exception):
    """A server could not be chosen; the message says which and why."""


@dataclass
class ServerTable:
    """Every `[servers.NAME]` that could be read, and what was wrong with the others."""

    servers: dict[str, Endpoint] = field(default_factory=dict)
    default: str = ""  # the top-level `server = "NAME"`
    problems: list[str] = field(default_factory=list)


def _number(name: str, key: str, value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ValueError(f"[servers.{name}] {key} should be a number of seconds, not {value!r}")


def _endpoint(name: str, table: Any) -> Endpoint:
    if not isinstance(table, dict):
        raise ValueError(f"[servers.{name}] should be a table with a url")
    url = table.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"[servers.{name}] has no url")
    for key in ("model", "api_key_env"):
        if key in table and not isinstance(table[key], str):
            raise ValueError(f"[servers.{name}] {key} should be a string")
    if "api_key" in table:
        raise ValueError(
            f"[servers.{name}] has an api_key: keep keys out of config.toml; put the key in "
            "an environment variable and write its name as api_key_env"
        )
    extra = table.get("extra_sampling", True)
    if not isinstance(extra, bool):
        raise ValueError(f"[servers.{name}] extra_sampling should be true or false")
    try:
        url = normalise_url(url)
    except EndpointError as exc:
        raise ValueError(f"[servers.{name}] {exc}") from None
    return Endpoint(
        url=url,
        model=table.get("model", ""),
        api_key_env=table.get("api_key_env", DEFAULT_API_KEY_ENV),
        name=name,
        first_byte_timeout=_number(
            name, "first_byte_timeout", table.get("first_byte_timeout"), FIRST_BYTE_TIMEOUT
        ),
        chunk_timeout=_number(name, "chunk_timeout", table.get("chunk_timeout"), CHUNK_TIMEOUT),
        extra_sampling=extra,
    )


def read_servers(raw: dict[str, Any]) -> ServerTable:
    """The servers of a parsed config.toml; a broken entry is a problem, not a crash."""
    result = ServerTable()
    default = raw.get(DEFAULT_KEY, "")
    if isinstance(default, str):
        result.default = default.strip()
    else:
        result.problems.append(f"'{DEFAULT_KEY}' should be the name of a [servers.NAME] table")
    tables = raw.get(SERVERS_KEY, {})
    if not isinstance(tables, dict):
        result.problems.append("[servers] should be a table of [servers.NAME] tables")
        return result
    for name, table in tables.items():
        try:
            result.servers[name] = _endpoint(name, table)
        except ValueError as exc:
            result.problems.append(str(exc))
    if result.default and result.default not in result.servers:
        result.problems.append(f"server = '{result.default}' names no [servers.NAME] table")
    return result


def looks_like_url(spec: str) -> bool:
    return "://" in spec or ":" in spec or "/" in spec or spec == "localhost" or "." in spec


def resolve_server(
    spec: str,
    table: ServerTable,
    *,
    model: str | None = None,
    api_key_env: str | None = None,
    first_byte_timeout: float | None = None,
) -> Endpoint:
    """`--server` (a configured name or a URL) with the command line's overrides on top."""
    spec = spec.strip()
    if spec in table.servers:
        endpoint = table.servers[spec]
    elif looks_like_url(spec):
        try:
            endpoint = Endpoint.parse(spec)
        except EndpointError as exc:
            raise ServerConfigError(str(exc)) from None
    else:
        known = ", ".join(sorted(table.servers)) or "none configured"
        raise ServerConfigError(
            f"no server named '{spec}' in config.toml (known: {known}); "
            "give a URL such as http://127.0.0.1:8080/v1"
        )
    changes: dict[str, Any] = {}
    if model:
        changes["model"] = model
    if api_key_env is not None:
        changes["api_key_env"] = api_key_env
    if first_byte_timeout is not None:
        if first_byte_timeout <= 0:
            raise ServerConfigError("--first-byte-timeout must be more than 0 seconds")
        changes["first_byte_timeout"] = first_byte_timeout
    return replace(endpoint, **changes) if changes else endpoint
