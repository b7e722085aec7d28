"""Where an OpenAI-compatible server is and how to talk to it.

Kept free of HTTP code so the command line and the settings can build one
cheaply. The API key itself is never stored: only the name of the environment
variable that holds it, read when a request is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
CONNECT_TIMEOUT = 5.0
FIRST_BYTE_TIMEOUT = 60.0  # a big model can take a while to read a long prompt
CHUNK_TIMEOUT = 60.0  # silence allowed between two pieces of an answer


class EndpointError(ValueError):
    """The endpoint description itself is unusable (not a URL, say)."""


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
        raise EndpointError(f"'{url}' is not an http(s) URL like http://127.0.0.1:8080/v1")
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

    def headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def api(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}"
