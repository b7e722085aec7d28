"""A loopback Hugging Face Hub that the real huggingface_hub client can talk to.

It speaks what the client calls (read from huggingface_hub 2.x: `model_info`,
`list_repo_tree`, `list_models`, `get_hf_file_metadata` and `http_get`): repo info, the
paginated tree listing, model search, and `/resolve/` with HEAD, GET and Range, with the
headers the client needs (ETag, X-Repo-Commit, X-Linked-Size, X-Linked-Etag) and the
`X-Error-Code` header it turns into typed errors. It serves real files from disk.

Faults for tests: a gated repo (401 GatedRepo unless the right token is sent), unknown
repos (401 RepoNotFound), missing files (404 EntryNotFound), a server that stalls (before
answering, or after the first chunk of a body), a slow transfer, and a log of every request.

Misbehaviour for the hostile-Hub tests (tests/test_hostile_hub.py): `etag`, `commit` and
`info_sha` replace what the Hub says a file's ETag, its commit and the repository's sha are
(a path, an absolute path, …), and `misbehave` picks one of MODES for the answers of the
endpoints named in `misbehave_on` (info, tree, search, head, get: any GET of a file, probe: one
with a Range header, file: one without; all when empty): endless
or compressed-bomb bodies, a byte every `drip_every` seconds, redirect loops, other URL
schemes, broken encodings, bad JSON and JSON of the wrong shape.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

CHUNK = 64 * 1024

# The repositories tests/conftest_hub.py serves.
LADDER_REPO = "bartowski/SmolLM2-135M-Instruct-GGUF"
SPLIT_REPO = "test-org/SmolLM2-135M-Instruct-split-GGUF"
GATED_REPO = "gated-org/SmolLM2-135M-Instruct-GGUF"
N_PARAMS = 134_515_008
README = b"# SmolLM2 135M Instruct GGUF\n\nQuantizations of SmolLM2-135M-Instruct.\n"


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, Path | bytes]
    gated: bool = False
    n_params: int | None = None
    downloads: int = 0
    sha: str = ""

    def __post_init__(self) -> None:
        self.sha = self.sha or hashlib.sha1(self.repo_id.encode()).hexdigest()

    def size(self, name: str) -> int:
        data = self.files[name]
        return len(data) if isinstance(data, bytes) else data.stat().st_size

    def etag(self, name: str) -> str:
        data = self.files[name]
        stamp = data if isinstance(data, bytes) else f"{data}:{data.stat().st_mtime_ns}".encode()
        return hashlib.sha256(self.repo_id.encode() + name.encode() + stamp).hexdigest()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeHub:
    """Start with `start()` (or `with FakeHub() as hub`); `url` is the endpoint."""

    token: str = "hf_test_token"
    page_size: int = 1000
    stall: str | None = None  # None | "headers" (never answer) | "body" (stop after a chunk)
    stall_match: str = ""  # only requests whose path contains this stall
    rate: float | None = None  # bytes per second for file bodies; None = as fast as possible
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # -- misbehaviour (see the module docstring) --
    etag: str | None = None  # the ETag and X-Linked-Etag header of every file, as sent
    commit: str | None = None  # the X-Repo-Commit header of every file answer
    info_sha: str | None = None  # the `sha` model_info reports (and the tree accepts)
    misbehave: str | None = None  # one of MODES
    misbehave_on: str = ""  # comma-separated endpoints: info, tree, search, head, get
    drip_every: float = 5.0  # seconds between the bytes of the drip modes

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.body_bytes_sent = 0
        self.bodies_in_flight = 0  # file bodies being sent right now

    # -- control -------------------------------------------------------------------
    def add_repo(self, repo_id: str, files: dict[str, Path | bytes], **kwargs) -> FakeRepo:
        repo = FakeRepo(repo_id, dict(files), **kwargs)
        self.repos[repo_id] = repo
        return repo

    def start(self) -> FakeHub:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.hub = self  # type: ignore[attr-defined]
        self._server = server
        serve = lambda: server.serve_forever(poll_interval=0.02)  # noqa: E731
        threading.Thread(target=serve, name="fake-hub", daemon=True).start()
        return self

    def close(self) -> None:
        self._release.set()  # wake every stalled handler
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the hub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def count(self, contains: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if contains in r.path)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.01)
        return condition()

    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"

    @property
    def hub(self) -> FakeHub:
        return self.server.hub  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    # -- routing -------------------------------------------------------------------
    def _handle(self, head: bool) -> None:
        hub = self.hub
        hub._log(Request(self.command, self.path, dict(self.headers.items())))
        if hub.stall == "headers" and hub.stall_match in self.path:
            hub._release.wait()
            self.close_connection = True
            return
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        kind = _kind(parts, head)
        kinds = (
            {kind, ("probe" if "Range" in self.headers else "file")} if kind == "get" else {kind}
        )
        wanted = {k.strip() for k in hub.misbehave_on.split(",") if k.strip()}
        if hub.misbehave and kind and (not wanted or wanted & kinds):
            try:
                return _misbehave(self, hub.misbehave, kind)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up: what a test wants
                return
        try:
            if parts[:2] == ["api", "models"] and len(parts) == 2:
                return self._search(query)
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                repo = self._repo("/".join(parts[2:4]))
                rest = parts[4:]
                if not rest:
                    return self._info(repo, query)
                if rest[0] == "revision" and len(rest) == 2:
                    self._revision(repo, rest[1])
                    return self._info(repo, query)
                if rest[0] == "tree" and len(rest) >= 2:
                    self._revision(repo, rest[1])
                    return self._tree(repo, "/".join(rest[2:]), query)
            if len(parts) >= 5 and parts[2] == "resolve":
                repo = self._repo("/".join(parts[:2]))
                self._revision(repo, parts[3])
                return self._resolve(repo, "/".join(parts[4:]), head)
            self._error(404, None, "Not found")
        except _HttpError as err:
            self._error(err.status, err.code, err.message, err.headers)

    def _repo(self, repo_id: str) -> FakeRepo:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            raise _HttpError(401, "RepoNotFound", "Repository not found")
        return repo

    def _revision(self, repo: FakeRepo, revision: str) -> None:
        if revision not in ("main", repo.sha, self.hub.info_sha):
            raise _HttpError(404, "RevisionNotFound", f"Invalid rev id: {revision}")

    # -- endpoints -----------------------------------------------------------------
    def _search(self, query: dict[str, list[str]]) -> None:
        words = (query.get("search") or [""])[0].lower()
        limit = int((query.get("limit") or ["1000"])[0])
        found = [r for r in self.hub.repos.values() if words in r.repo_id.lower()]
        found.sort(key=lambda r: -r.downloads)
        self._json([self._summary(r) for r in found[:limit]])

    def _summary(self, repo: FakeRepo) -> dict:
        return {
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": repo.sha,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "downloads": repo.downloads,
            "likes": 3,
            "tags": ["gguf"],
            "library_name": "gguf",
            "lastModified": "2025-01-02T03:04:05.000Z",
            "createdAt": "2025-01-01T00:00:00.000Z",
        }

    def _info(self, repo: FakeRepo, query: dict[str, list[str]]) -> None:
        info = self._summary(repo)
        if self.hub.info_sha is not None:
            info["sha"] = self.hub.info_sha
        info["siblings"] = [{"rfilename": name} for name in sorted(repo.files)]
        if repo.n_params:
            info["gguf"] = {"total": repo.n_params, "architecture": "llama", "context_length": 8192}
        if expand := query.get("expand"):  # like the Hub: only the fields asked for
            info = {k: v for k, v in info.items() if k in {"id", *expand}}
        self._json(info)

    def _tree(self, repo: FakeRepo, prefix: str, query: dict[str, list[str]]) -> None:
        recursive = (query.get("recursive") or ["false"])[0].lower() in ("true", "1")
        start = int((query.get("cursor") or ["0"])[0])
        base = prefix.strip("/") + "/" if prefix.strip("/") else ""
        entries: list[dict] = []
        folders: set[str] = set()
        for name in sorted(repo.files):
            if not name.startswith(base):
                continue
            rest = name[len(base) :]
            for i in range(rest.count("/") if recursive else min(rest.count("/"), 1)):
                folders.add(base + "/".join(rest.split("/")[: i + 1]))
            if recursive or "/" not in rest:
                entries.append(self._file_entry(repo, name))
        entries += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in folders]
        entries.sort(key=lambda e: e["path"])
        page = entries[start : start + self.hub.page_size]
        headers = {}
        if start + self.hub.page_size < len(entries):
            path = f"/api/models/{repo.repo_id}/tree/main" + (f"/{quote(prefix)}" if prefix else "")
            nxt = f"{self.hub.url}{path}?recursive={recursive}&cursor={start + self.hub.page_size}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        self._json(page, headers)

    def _file_entry(self, repo: FakeRepo, name: str) -> dict:
        size = repo.size(name)
        entry = {"type": "file", "oid": repo.etag(name)[:40], "size": size, "path": name}
        if name.endswith(".gguf"):
            entry["lfs"] = {"oid": repo.etag(name), "size": size, "pointerSize": 134}
        return entry

    def _resolve(self, repo: FakeRepo, name: str, head: bool) -> None:
        if repo.gated and self.headers.get("Authorization") != f"Bearer {self.hub.token}":
            message = f"Access to model {repo.repo_id} is restricted. Please log in."
            raise _HttpError(401, "GatedRepo", message)
        if name not in repo.files:
            raise _HttpError(
                404, "EntryNotFound", f"{name} does not exist", {"X-Repo-Commit": repo.sha}
            )
        size = repo.size(name)
        start, end = 0, size - 1
        status = 200
        if not head and (rng := self.headers.get("Range", "")).startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first or 0)
            end = min(int(last), size - 1) if last else size - 1
            status = 206
        etag = f'"{repo.etag(name)}"' if self.hub.etag is None else self.hub.etag
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1 if not head else size))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("X-Linked-Etag", etag)
        self.send_header("X-Linked-Size", str(size))
        self.send_header("X-Repo-Commit", repo.sha if self.hub.commit is None else self.hub.commit)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if not head:
            self._send_body(repo.files[name], start, end + 1)

    def _send_body(self, data: Path | bytes, start: int, stop: int) -> None:
        hub = self.hub
        stall = hub.stall == "body" and hub.stall_match in self.path
        began = time.monotonic()
        sent = 0
        with hub._lock:
            hub.bodies_in_flight += 1
        try:
            with _open(data) as fh:
                fh.seek(start)
                while start + sent < stop:
                    chunk = fh.read(min(CHUNK, stop - start - sent))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    hub.body_bytes_sent += len(chunk)
                    if stall:
                        self.wfile.flush()
                        hub._release.wait()
                        self.close_connection = True
                        return
                    if hub.rate:
                        ahead = sent / hub.rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)  # the server's own pace, not a test wait
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a cancelled download)
        finally:
            with hub._lock:
                hub.bodies_in_flight -= 1

    # -- responses -----------------------------------------------------------------
    def _json(self, payload: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(
        self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _HttpError(Exception):
    def __init__(
        self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _open(data: Path | bytes):
    import io

    return io.BytesIO(data) if isinstance(data, bytes) else data.open("rb")


# -- misbehaviour ------------------------------------------------------------------------------

MODES = (
    "endless",  # 200 JSON that never ends (no length, until the client hangs up)
    "endless-error",  # the same as a 500
    "gzip-bomb",  # 1 MB of gzip that inflates to 1 GiB
    "deflate-bomb",  # the same as deflate
    "drip-headers",  # the status line and headers one byte every drip_every seconds
    "drip-body",  # good headers, then the body one byte every drip_every seconds
    "redirect-loop",  # 302 to itself, forever
    "redirect-file",  # 302 to file:///etc/passwd
    "redirect-ftp",  # 302 to ftp://
    "bad-gzip",  # Content-Encoding: gzip on a body that is not gzip
    "unknown-encoding",  # Content-Encoding: br on a body that is not brotli
    "bad-utf8",  # bytes that are not UTF-8
    "bad-json",  # JSON cut off in the middle
    "html",  # a 200 HTML page
    "null",  # the JSON `null`
    "empty",  # a 200 with no body
    "wrong-types",  # every field of the wrong type
    "missing-keys",  # objects without the fields the client needs
    "not-a-list",  # an object where a list belongs (and the other way round)
    "endless-pages",  # a tree or search page whose Link header always has a next page
    "huge-header",  # a 1 MiB header line
    "hang-up",  # the connection closed without an answer
    "short-body",  # a Content-Length longer than the body, then the connection closed
)

_BOMB: dict[str, bytes] = {}
_BOMB_LOCK = threading.Lock()


def bomb(kind: str = "gzip", inflated: int = 1 << 30) -> bytes:
    """`[` then spaces, `inflated` bytes in all, compressed (about 1 MB for 1 GiB)."""
    key = f"{kind}:{inflated}"
    with _BOMB_LOCK:
        if key not in _BOMB:
            wbits = 16 + zlib.MAX_WBITS if kind == "gzip" else zlib.MAX_WBITS
            packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
            block = b" " * (1 << 20)
            parts = [packer.compress(b"[")]
            for _ in range(inflated // len(block)):
                parts.append(packer.compress(block))
            parts.append(packer.flush())
            _BOMB[key] = b"".join(parts)
        return _BOMB[key]


def _kind(parts: list[str], head: bool) -> str | None:
    """Which endpoint a request is for: info, tree, search, head or get (a file)."""
    if parts[:2] == ["api", "models"]:
        if len(parts) == 2:
            return "search"
        return "tree" if len(parts) >= 6 and parts[4] == "tree" else "info"
    if len(parts) >= 5 and parts[2] == "resolve":
        return "head" if head else "get"
    return None


# JSON of the wrong shape, per endpoint.
_WRONG_TYPES = {
    "info": {"id": 5, "sha": ["x"], "gated": {"a": 1}, "gguf": "lots", "siblings": "x"},
    "tree": [{"type": "file", "path": 5, "size": "big", "lfs": "x", "oid": None}],
    "search": [{"id": None, "downloads": "many", "likes": [], "lastModified": 7, "gated": 3}],
}
_MISSING_KEYS = {"info": {}, "tree": [{"type": "file"}], "search": [{}]}
_NOT_A_LIST = {"info": [1, 2], "tree": {"path": "x.gguf"}, "search": {"id": "a/b"}}


def _misbehave(handler: _Handler, mode: str, kind: str) -> None:
    hub = handler.hub
    w = handler.wfile
    head = kind == "head"

    def answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", **(headers or {})}
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        if kind in ("head", "get"):  # enough for the client to take it as a file answer
            handler.send_header("ETag", '"' + "a" * 64 + '"')
            handler.send_header("X-Repo-Commit", "b" * 40)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        if not head:
            w.write(body)

    def redirect(location: str) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    if mode in ("endless", "endless-error"):
        handler.send_response(200 if mode == "endless" else 500)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        if head:
            return
        entry = b'{"type": "file", "path": "x.gguf", "size": 1},' * 1000
        w.write(b"[")
        while not hub._release.is_set():
            w.write(entry)
        return
    if mode in ("gzip-bomb", "deflate-bomb"):
        body = bomb("gzip" if mode == "gzip-bomb" else "deflate")
        return answer(200, body, {"Content-Encoding": mode.split("-")[0]})
    if mode == "drip-headers":
        handler.close_connection = True
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"p" * 4096:
            w.write(bytes([byte]))
            w.flush()
            if hub._release.wait(hub.drip_every):
                return
        return
    if mode == "drip-body":
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000000")
        if kind in ("head", "get"):
            handler.send_header("ETag", '"' + "a" * 64 + '"')
            handler.send_header("X-Repo-Commit", "b" * 40)
        handler.end_headers()
        handler.close_connection = True
        if head:
            return
        with hub._lock:
            hub.bodies_in_flight += 1
        try:
            while True:
                w.write(b" ")
                w.flush()
                hub.body_bytes_sent += 1
                if hub._release.wait(hub.drip_every):
                    return
        finally:
            with hub._lock:
                hub.bodies_in_flight -= 1
    if mode == "redirect-loop":
        return redirect(handler.path)
    if mode == "redirect-file":
        return redirect("file:///etc/passwd")
    if mode == "redirect-ftp":
        return redirect("ftp://127.0.0.1/x")
    if mode == "bad-gzip":
        return answer(200, b"this is not gzip at all" * 10, {"Content-Encoding": "gzip"})
    if mode == "unknown-encoding":
        return answer(200, b"\x00\x01 not brotli" * 10, {"Content-Encoding": "br"})
    if mode == "bad-utf8":
        return answer(200, b'[{"id": "\xff\xfe\xfa"}]\xc3\x28')
    if mode == "bad-json":
        return answer(200, b'[{"id": "a/b", "sha": ')
    if mode == "html":
        page = b"<html><body>Please log in</body></html>"
        return answer(200, page, {"Content-Type": "text/html"})
    if mode == "null":
        return answer(200, b"null")
    if mode == "empty":
        return answer(200, b"")
    if mode in ("wrong-types", "missing-keys", "not-a-list"):
        table = {"wrong-types": _WRONG_TYPES, "missing-keys": _MISSING_KEYS}.get(mode, _NOT_A_LIST)
        return answer(200, json.dumps(table.get(kind, {})).encode())
    if mode == "endless-pages":
        url = urlsplit(handler.path)
        cursor = int((parse_qs(url.query).get("cursor") or ["0"])[0]) + 1
        nxt = f"{hub.url}{url.path}?recursive=true&cursor={cursor}"
        page = [{"type": "file", "oid": "c" * 40, "size": 1, "path": f"f{cursor}.bin"}]
        if kind == "search":
            page = [{"id": f"o/r{cursor}", "downloads": 1, "likes": 1}]
        return answer(200, json.dumps(page).encode(), {"Link": f'<{nxt}>; rel="next"'})
    if mode == "huge-header":
        return answer(200, b"[]", {"X-Huge": "h" * (1 << 20)})
    if mode == "hang-up":
        handler.close_connection = True
        return
    if mode == "short-body":
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.close_connection = True
        if not head:
            w.write(b'[{"id": ')
        return
    raise ValueError(f"unknown misbehaviour {mode!r} (one of {', '.join(MODES)})")
