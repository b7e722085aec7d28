"""Where an OpenAI-compatible server is and how to talk to it.

Kept free of HTTP code so the command line and the settings can build one
cheaply. The API key itself is never stored: only the name of the environment
variable that holds it, read when a request is made.

A user name and password in the URL (`http://user:pw@host/v1`) are split off
when the Endpoint is made (`split_credentials`): `url`, `host` and `label`,
which are shown, logged and saved (a message's model file, the JSON export),
never hold them; they are sent as HTTP Basic auth. `redact()` removes them from
any text that may quote a URL the user typed.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
CONNECT_TIMEOUT = 5.0
FIRST_BYTE_TIMEOUT = 60.0  # a big model can take a while to read a long prompt
CHUNK_TIMEOUT = 60.0  # silence allowed between two pieces of an answer


class EndpointError(ValueError):
    """The endpoint description itself is unusable (not a URL, say)."""


# The authority's `user:pw@` (up to its last @), after a scheme or at the start of a word.
_WITH_SCHEME = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/?#]*@")
_BARE = re.compile(r"(?<![\w.@:/-])[^\s/?#@:'\"]+:[^\s/?#'\"]*@(?=[\w\[])")


def redact(text: str) -> str:
    """`text` with the `user:password@` part of every URL in it removed (a plain
    `name@host`, an e-mail address, is left alone)."""
    return _BARE.sub("", _WITH_SCHEME.sub(r"\1", text))


def split_credentials(url: str) -> tuple[str, str, str]:
    """(the URL without `user:pw@`, user, password), the two percent-decoded."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, "", ""
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, unquote(user), unquote(password)


def normalise_url(url: str) -> str:
    """`host:8080` -> `http://host:8080/v1`; a URL with a path is kept as given.

    Servers differ in where their API lives (`/v1` for llama-server, vLLM,
    Ollama; `/api/v1` behind some proxies), so only a bare host gets `/v1`.
    """
    text = url.strip()
    if not text:
        raise EndpointError("the server URL is empty")
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"'{redact(url)}' is not an http(s) URL like http://127.0.0.1:8080/v1")
    path = parts.path.rstrip("/") or "/v1"
    return f"{parts.scheme}://{parts.netloc}{path}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One OpenAI-compatible server (llama-server, llama_cpp.server, vLLM, Ollama …)."""

    url: str  # the API base, e.g. http://127.0.0.1:8080/v1
    model: str = ""  # "" = the server's only model
    api_key_env: str = DEFAULT_API_KEY_ENV
    name: str = ""  # the [servers.NAME] it came from, if any
    connect_timeout: float = CONNECT_TIMEOUT
    first_byte_timeout: float = FIRST_BYTE_TIMEOUT
    chunk_timeout: float = CHUNK_TIMEOUT
    # top_k, min_p and repeat_penalty are llama.cpp/vLLM extensions; the OpenAI
    # API itself rejects them, so they can be switched off per server.
    extra_sampling: bool = True
    # From `user:pw@` in the URL (see split_credentials); never shown, logged or saved.
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        clean, user, password = split_credentials(self.url)
        if clean != self.url:
            object.__setattr__(self, "url", clean)
            object.__setattr__(self, "username", user)
            object.__setattr__(self, "password", password)

    @classmethod
    def parse(cls, url: str, **kwargs) -> Endpoint:
        return cls(url=normalise_url(url), **kwargs)

    @property
    def host(self) -> str:
        """`host:port`, for labels such as the model file of a message."""
        return urlsplit(self.url).netloc

    @property
    def label(self) -> str:
        return self.name or self.host

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None

    @property
    def has_credentials(self) -> bool:
        """The URL carried a user name or password (sent as Basic auth)."""
        return bool(self.username or self.password)

    def headers(self) -> dict[str, str]:
        """Credentials from the URL win: they were given for this very server (often a
        proxy in front of it); otherwise the API key, when its variable is set."""
        if self.has_credentials:
            pair = f"{self.username}:{self.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        key = self.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def api(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}"
