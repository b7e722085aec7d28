"""A loopback OpenAI-compatible server whose every misbehaviour is scripted.

The real server tests use llama_cpp.server; this one plays what a real server
cannot be made to do on cue: answer 404/429/503, wait before the first byte,
stall or break off in the middle of an answer, send reasoning and `timings`.
It speaks HTTP/1.1 with chunked server-sent events, as llama-server and uvicorn do,
listens on 127.0.0.1 only, and every wait in it ends when the server stops.

Hostile modes (`Reply.source`, `FakeOpenAI.models_reply`): any status, headers and
content type with a body produced piece by piece (endless, a gzip bomb, one byte
every few seconds, one giant event: see the generators below), for the chat
endpoints and for `/v1/models` alike.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DONE = "[DONE]"


def chunk(content: str | None = None, reasoning: str | None = None, finish: str | None = None):
    """One `chat.completion.chunk`."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def text_chunks(pieces: list[str], finish: str = "stop") -> list[Any]:
    return [chunk(p) for p in pieces] + [chunk(finish=finish)]


# -- bodies for hostile replies: each a function returning an iterator of bytes ----------
def endless(piece: bytes = b"x" * 65536) -> Callable[[], Iterator[bytes]]:
    """The same piece forever."""
    return lambda: itertools.repeat(piece)


def drip(data: bytes = b"x" * 10_000) -> Callable[[], Iterator[bytes]]:
    """`data` one byte at a time: with the Reply's `delay`, one byte every so often."""
    return lambda: (data[i : i + 1] for i in range(len(data)))


def gzip_bomb(compressed_bytes: int = 2 * 2**20) -> Callable[[], Iterator[bytes]]:
    """A gzip stream of zeros made on the fly until `compressed_bytes` are sent: about
    1,000 times that much once decompressed (2 MB -> 2 GB)."""

    def pieces() -> Iterator[bytes]:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros, sent = bytes(2**20), 0
        while sent < compressed_bytes:
            out = z.compress(zeros)
            if out:
                sent += len(out)
                yield out
        yield z.flush()

    return pieces


def giant_delta(size: int, piece: int = 65536) -> Callable[[], Iterator[bytes]]:
    """One SSE event whose delta is `size` letters, sent in pieces, then [DONE]."""

    def pieces() -> Iterator[bytes]:
        yield b'data: {"choices":[{"index":0,"delta":{"content":"'
        left = size
        while left > 0:
            n = min(piece, left)
            yield b"a" * n
            left -= n
        yield b'"},"finish_reason":null}]}\n\n'
        yield b"data: " + json.dumps(chunk(finish="stop")).encode() + b"\n\ndata: [DONE]\n\n"

    return pieces


def big_deltas(count: int, size: int, text: str = "word ") -> Callable[[], Iterator[bytes]]:
    """`count` events of about `size` characters each (`text` repeated), then [DONE]."""

    def pieces() -> Iterator[bytes]:
        body = (text * (size // len(text) + 1))[:size]
        event = b"data: " + json.dumps(chunk(body)).encode() + b"\n\n"
        for _ in range(count):
            yield event
        yield b"data: " + json.dumps(chunk(finish="stop")).encode() + b"\n\ndata: [DONE]\n\n"

    return pieces


@dataclass
class Reply:
    """How the next request to a completion endpoint is answered."""

    chunks: list[Any] = field(default_factory=lambda: text_chunks(["Hello", " there", "!"]))
    status: int = 200
    body: str = ""  # the error body, for a status >= 400
    headers: dict[str, str] = field(default_factory=dict)
    first_byte_delay: float = 0.0  # seconds before the status line
    delay: float = 0.0  # between chunks
    stall_after: int | None = None  # after this many chunks, send nothing more until stopped
    cut_after: int | None = None  # after this many chunks, drop the connection
    done: bool = True  # end with data: [DONE]
    content_type: str = "text/event-stream"
    # A hostile body: sent as is (chunked) with `status`, `headers` and `content_type`,
    # `delay` seconds between its pieces, until it ends or the client goes away.
    source: Callable[[], Iterator[bytes]] | None = None


class FakeOpenAI:
    """`with FakeOpenAI() as fake:` … `fake.url` is the API base (…/v1)."""

    def __init__(self, models: list[str] | None = None, api_key: str | None = None) -> None:
        self.models = ["Fake-7B-Instruct-Q4_K_M.gguf"] if models is None else models
        self.api_key = api_key
        self.replies: list[Reply] = []  # used in order; the default Reply when empty
        self.requests: list[dict[str, Any]] = []  # {"path", "headers", "json"}
        self.models_status = 200
        self.models_reply: Reply | None = None  # a hostile /v1/models (its `source`)
        self.stopping = threading.Event()
        self.connections_closed = threading.Event()  # a streamed answer's client went away
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _json(self, status: int, payload: Any, headers: dict | None = None) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if fake.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {fake.api_key}":
                    return True
                self._json(401, {"error": {"message": "Invalid API key", "code": 401}})
                return False

            def do_GET(self) -> None:
                fake.requests.append({"path": self.path, "headers": dict(self.headers)})
                if not self._authorised():
                    return
                if self.path != "/v1/models":
                    self._json(404, {"detail": "Not Found"})
                elif fake.models_reply is not None:
                    self._raw(fake.models_reply)
                elif fake.models_status != 200:
                    self._json(fake.models_status, {"detail": "Not Found"})
                else:
                    data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
                    self._json(200, {"object": "list", "data": data})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": body}
                )
                if not self._authorised():
                    return
                if self.path not in ("/v1/chat/completions", "/v1/completions"):
                    self._json(404, {"detail": "Not Found"})
                    return
                reply = fake.replies.pop(0) if fake.replies else Reply()
                if reply.first_byte_delay and fake.stopping.wait(reply.first_byte_delay):
                    return
                if reply.source is not None:
                    self._raw(reply)
                    return
                if reply.status >= 400:
                    self._json(reply.status, reply.body.encode(), reply.headers)
                    return
                if reply.content_type == "application/json":
                    self._json(200, reply.chunks[0])
                    return
                self._stream(reply)

            def _send_chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _raw(self, reply: Reply) -> None:
                """A hostile reply: whatever `reply.source` yields, chunked."""
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                assert reply.source is not None
                try:
                    for n, piece in enumerate(reply.source()):
                        if n and reply.delay and fake.stopping.wait(reply.delay):
                            return
                        if fake.stopping.is_set():
                            return
                        if piece:
                            self._send_chunk(piece)
                    self._send_chunk(b"")
                except OSError:
                    fake.connections_closed.set()
                finally:
                    self.close_connection = True

            def _stream(self, reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                items = list(reply.chunks) + ([DONE] if reply.done else [])
                try:
                    for n, item in enumerate(items):
                        if n == reply.cut_after:
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        if n == reply.stall_after:
                            fake.stopping.wait(60)
                            return
                        if n and reply.delay and fake.stopping.wait(reply.delay):
                            return
                        data = item if isinstance(item, str) else json.dumps(item)
                        self._send_chunk(f"data: {data}\n\n".encode())
                    self._send_chunk(b"")
                except OSError:  # the client closed the connection: it stopped the answer
                    fake.connections_closed.set()
                    self.close_connection = True

        return Handler
