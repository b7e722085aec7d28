"""A loopback Hugging Face Hub that the real huggingface_hub client can talk to.

It speaks what the client calls (read from huggingface_hub 2.x: `model_info`,
`list_repo_tree`, `list_models`, `get_hf_file_metadata` and `http_get`): repo info, the
paginated tree listing, model search, and `/resolve/` with HEAD, GET and Range, with the
headers the client needs (ETag, X-Repo-Commit, X-Linked-Size, X-Linked-Etag) and the
`X-Error-Code` header it turns into typed errors. It serves real files from disk.

Faults for tests: a gated repo (401 GatedRepo unless the right token is sent), unknown
repos (401 RepoNotFound), missing files (404 EntryNotFound), a server that stalls (before
answering, or after the first chunk of a body), a slow transfer, and a log of every request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
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
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
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
        if revision not in ("main", repo.sha):
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
        etag = f'"{repo.etag(name)}"'
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1 if not head else size))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("X-Linked-Etag", etag)
        self.send_header("X-Linked-Size", str(size))
        self.send_header("X-Repo-Commit", repo.sha)
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
