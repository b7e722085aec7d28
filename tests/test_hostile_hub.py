"""A hostile or broken Hugging Face Hub (or mirror, or proxy) on loopback, against the real
command line: nothing is written outside the caches, every answer is read within a deadline
and a byte budget, and whatever the Hub sends, the user gets one clear line, never a
traceback. The misbehaviour is tests/support/fake_hub.py's (`misbehave`, `etag`, `commit`,
`info_sha`, hostile file names): payloads of our own.

Stated limits (docs/models.md, "Limits against a broken Hub"), asserted here:
- a step (a listing, a search, one file's metadata) ends within GGUF_TUI_HUB_DEADLINE;
  `list REPO` is at most two steps (the listing, then the header probe);
- the peak memory of `gguf-tui list REPO` / `pull` stays under RSS_BOUND_MIB whatever the
  Hub sends (a plain listing peaks near 45 MiB);
- Ctrl+C stops a stalled download within a second.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from gguf_tui.models.hub import client as hub_client
from gguf_tui.models.hub import download as download_module
from gguf_tui.models.hub.errors import HubError, UnsafeHubAnswer
from gguf_tui.models.hub.listing import list_quants, search_repos
from tests.support.fake_hub import MODES, FakeHub, bomb
from tests.support.measured import run_measured

REPO = "hostile-org/model-GGUF"
FILE = "model-Q4_K_M.gguf"
BODY = b"GGUF" + bytes(4092)
TIMEOUT = 2  # GGUF_TUI_HUB_TIMEOUT: seconds without a byte
DEADLINE = 4  # GGUF_TUI_HUB_DEADLINE: seconds for one step
STARTUP = 8  # seconds the command line may take to start and finish on a busy machine
RSS_BOUND_MIB = 150


@pytest.fixture(scope="module")
def bombs():
    bomb("gzip")  # made once, before any server thread needs them (a few seconds)
    bomb("deflate")


@pytest.fixture
def hub(bombs):
    with FakeHub(drip_every=0.5) as hub:
        hub.add_repo(REPO, {FILE: BODY, "README.md": b"# hostile\n"})
        yield hub


class Layout:
    """A user's folders under tmp_path; everything else under tmp_path must stay as it was."""

    def __init__(self, root: Path, hub: FakeHub) -> None:
        self.root = root
        self.hf_home = root / "hf"
        self.home = root / "home"
        self.dir = root / "models-dir"  # pull --dir
        self.home.mkdir()
        self.hub = hub
        self.before = self.listing()

    @property
    def allowed(self) -> tuple[Path, ...]:
        return (self.hf_home, self.home, self.dir)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "HF_ENDPOINT": self.hub.url,
            "HF_HOME": str(self.hf_home),
            "HF_HUB_CACHE": str(self.hf_home / "hub"),
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_TOKEN": "",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "GGUF_TUI_HUB_TIMEOUT": str(TIMEOUT),
            "GGUF_TUI_HUB_DEADLINE": str(DEADLINE),
            **extra,
        }

    def listing(self) -> set[str]:
        found = set()
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                if not any(path == a or a in path.parents for a in self.allowed):
                    found.add(str(path.relative_to(self.root)))
        return found

    def created_outside(self) -> set[str]:
        return self.listing() - self.before

    def leftovers(self) -> list[Path]:
        """Anything a download left that looks like a model or a half-written file."""
        return [
            p
            for p in [*self.hf_home.rglob("*"), *self.dir.rglob("*")]
            if p.name.endswith((".gguf", ".incomplete")) and p.exists()
        ]


@pytest.fixture
def layout(tmp_path, hub):
    return Layout(tmp_path, hub)


def one_clear_line(m, starts: str = "gguf-tui: error: ") -> str:
    """stderr is one line (a progress bar aside) saying what went wrong; no traceback."""
    assert "Traceback" not in m.stderr, m.stderr
    lines = [ln for ln in m.stderr.replace("\r", "\n").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("gguf-tui: ")]
    assert len(errors) == 1, m.stderr
    others = [
        ln for ln in lines if ln not in errors and not ln.replace("\x1b[K", "").startswith("[")
    ]
    assert not others, m.stderr
    assert errors[0].startswith(starts), errors[0]
    return errors[0]


def file_gets(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests if r.method == "GET" and "/resolve/" in r.path]


# -- 1. nothing written outside the caches ------------------------------------------------------

# (what the Hub says, how): each would make huggingface_hub write outside HF_HOME or --dir.
PATH_CASES = {
    "etag-parent": ("etag", '"../../../../outside/x"'),
    "etag-weak-parent": ("etag", 'W/"../../../../outside/x"'),
    "etag-absolute": ("etag", "ABSOLUTE"),
    "etag-not-hex": ("etag", '"' + "g" * 64 + '"'),
    "commit-parent": ("commit", "../../../../outside-commit"),
    "commit-absolute": ("commit", "ABSOLUTE"),
    "sha-parent": ("info_sha", "../../../../outside-sha"),
    "name-parent": ("name", "../../../../outside/model-Q4_K_M.gguf"),
    "name-absolute": ("name", "ABSOLUTE"),
    "name-backslash": ("name", "..\\..\\..\\outside\\model-Q4_K_M.gguf"),
    "name-control": ("name", "\x1b]0;pwned\x07model-Q4_K_M.gguf"),
}


def make_hostile(hub: FakeHub, root: Path, case: str) -> None:
    field, value = PATH_CASES[case]
    if value == "ABSOLUTE":
        value = str(root / "absolute" / ("model-Q4_K_M.gguf" if field == "name" else "x"))
        if field == "etag":
            value = f'"{value}"'
    if field == "name":
        hub.add_repo(REPO, {value: BODY})
    else:
        setattr(hub, field, value)


@pytest.mark.parametrize("case", sorted(PATH_CASES))
def test_pull_refuses_what_would_be_written_outside_the_cache(layout, hub, case):
    make_hostile(hub, layout.root, case)
    m = run_measured("pull", f"{REPO}:Q4_K_M", env=layout.env(), timeout=60)
    assert m.rc == 2, (m.rc, m.stderr)
    line = one_clear_line(m, "gguf-tui: error: refusing ")
    assert "nothing was written" in line
    assert "\x1b" not in m.stderr and "\x07" not in m.stderr  # the name is quoted inert
    assert not layout.created_outside()
    assert not file_gets(hub), "refused before any byte of the file was asked for"
    assert not layout.leftovers()


@pytest.mark.parametrize("case", ["etag-parent", "commit-absolute", "name-parent"])
@pytest.mark.parametrize(
    "command",
    [
        ("pull", f"{REPO}:Q4_K_M", "--dir", "DIR"),
        ("run", f"{REPO}:Q4_K_M", "hello"),
        ("run", "--remote", f"{REPO}/*Q4_K_M.gguf", "hello"),
    ],
    ids=["pull-dir", "run-repo-quant", "run-remote"],
)
def test_every_command_that_downloads_refuses_the_same(layout, hub, case, command):
    make_hostile(hub, layout.root, case)
    args = [str(layout.dir) if a == "DIR" else a for a in command]
    m = run_measured(*args, env=layout.env(), timeout=60)
    assert m.rc == 2, (m.rc, m.stderr)
    one_clear_line(m, "gguf-tui: error: refusing ")
    assert not layout.created_outside()
    assert not file_gets(hub)
    assert not layout.leftovers()


def test_a_hub_that_answers_differently_the_second_time_is_still_refused(layout, hub, monkeypatch):
    """download.py checks the metadata it fetches first; huggingface_hub then asks again.
    The client checks that second answer too: a Hub cannot pass the first check and then
    send a path."""
    for key, value in layout.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(download_module, "check_file_answer", lambda *a, **k: None)
    hub.etag = '"../../../../outside/x"'
    with pytest.raises(UnsafeHubAnswer, match="refusing to download"):
        download_module.download(REPO, [FILE])
    assert not layout.created_outside()
    assert not file_gets(hub)


@pytest.mark.parametrize(
    "name", ["../x.gguf", "/abs.gguf", "a\\b.gguf", "a//b.gguf", "./a.gguf", "C:x.gguf", "a\x00b"]
)
def test_unsafe_names_are_refused_without_a_request(hub, monkeypatch, tmp_path, name):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(UnsafeHubAnswer, match="outside the download folder"):
        download_module.download(REPO, [name])
    assert not hub.requests


def test_safe_names_pass():
    for name in ["a.gguf", "Q4_K_M/a-00001-of-00002.gguf", "dir.v2/a b.gguf", "ünï.gguf"]:
        assert hub_client.is_safe_path(name), name
    hub_client.check_file_answer("a", '"' + "a" * 64 + '"', "b" * 40, "x")
    hub_client.check_file_answer("a", 'W/"' + "A" * 40 + '"', "0" * 40, "x")


# -- 2. bounded memory and time: one clear line ------------------------------------------------


@pytest.mark.parametrize("kind", ["info", "tree"])
@pytest.mark.parametrize("mode", MODES)
def test_list_repo_on_a_broken_hub_is_one_line_in_bounded_time_and_memory(layout, hub, mode, kind):
    hub.misbehave, hub.misbehave_on = mode, kind
    m = run_measured("list", REPO, env=layout.env(), timeout=2 * DEADLINE + 30)
    assert m.rc == 2, (m.rc, m.stdout, m.stderr)
    one_clear_line(m)
    assert m.wall < 2 * DEADLINE + STARTUP, m.wall
    assert m.peak_mib < RSS_BOUND_MIB, m.peak_mib
    assert not layout.created_outside()


@pytest.mark.parametrize("mode", ["endless", "gzip-bomb", "drip-headers", "drip-body", "html"])
def test_a_broken_header_probe_still_lists_the_repository(layout, hub, mode):
    """The probe (the first MiB of one file, for the memory estimate) is optional."""
    hub.misbehave, hub.misbehave_on = mode, "get"
    m = run_measured("list", REPO, env=layout.env(), timeout=2 * DEADLINE + 30)
    assert m.rc == 0, m.stderr
    assert "Q4_K_M" in m.stdout and "Traceback" not in m.stderr
    assert m.wall < 2 * DEADLINE + STARTUP, m.wall
    assert m.peak_mib < RSS_BOUND_MIB, m.peak_mib


@pytest.mark.parametrize("kind", ["head", "get"])
@pytest.mark.parametrize("mode", MODES)
def test_pull_from_a_broken_hub_is_one_line_and_leaves_nothing(layout, hub, mode, kind):
    hub.misbehave, hub.misbehave_on = mode, kind
    m = run_measured("pull", f"{REPO}:Q4_K_M", env=layout.env(), timeout=3 * DEADLINE + 30)
    assert "Traceback" not in m.stderr, m.stderr
    assert m.wall < 3 * DEADLINE + STARTUP, m.wall
    assert m.peak_mib < RSS_BOUND_MIB, m.peak_mib
    assert not layout.created_outside()
    if kind == "head" and mode == "empty":
        # A 0-byte HEAD with a well-formed ETag: the file the GET serves is taken, in the cache.
        assert m.rc == 0, m.stderr
        return
    assert m.rc == 2, (m.rc, m.stderr)
    one_clear_line(m)
    assert not layout.leftovers()


def test_ctrl_c_stops_a_download_that_trickles_at_once(layout, hub):
    """One byte every half second: no read ever times out, and the library's 256 KiB chunk
    never fills, so only the reads themselves can notice the cancel."""
    hub.misbehave, hub.misbehave_on = "drip-body", "get"
    env = layout.env(GGUF_TUI_HUB_TIMEOUT="30", GGUF_TUI_HUB_DEADLINE="60")
    began = time.monotonic()
    m = run_measured("pull", f"{REPO}:Q4_K_M", env=env, timeout=60, interrupt_after=4)
    assert hub.wait_for(lambda: hub.bodies_in_flight == 0, 5)
    assert m.rc == 130, (m.rc, m.stderr)
    assert "download cancelled" in m.stderr and "Traceback" not in m.stderr
    assert m.wall - 4 < 1.5, f"{m.wall - 4:.1f} s from Ctrl+C to the end"
    assert time.monotonic() - began < 30
    assert not layout.leftovers()


def test_a_cancel_reaches_a_read_that_waits(layout, hub, monkeypatch):
    """The picker's ctrl+x sets the same flag: a download waiting on a silent server ends
    within hub_client.POLL seconds, not at the read timeout."""
    for key, value in layout.env(GGUF_TUI_HUB_TIMEOUT="30").items():
        monkeypatch.setenv(key, value)
    hub.stall, hub.stall_match = "body", "/resolve/"
    hub.repos[REPO].files[FILE] = BODY * 64  # more than one chunk: the stall is mid-body
    cancel = threading.Event()
    outcome: dict[str, object] = {}

    def work():
        try:
            download_module.download(REPO, [FILE], cancel=cancel)
        except HubError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work)
    worker.start()
    assert hub.wait_for(lambda: hub.bodies_in_flight == 1 and hub.body_bytes_sent > 0, 10)
    cancel.set()  # the client is reading, or about to: the server sends nothing more
    began = time.monotonic()
    worker.join(10)
    assert not worker.is_alive()
    assert time.monotonic() - began < 1.0
    assert type(outcome["error"]).__name__ == "DownloadCancelled"


@pytest.mark.parametrize("mode", MODES)
def test_search_on_a_broken_hub_raises_only_hub_errors_in_time(hub, monkeypatch, mode):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("GGUF_TUI_HUB_TIMEOUT", str(TIMEOUT))
    monkeypatch.setenv("GGUF_TUI_HUB_DEADLINE", str(DEADLINE))
    hub.misbehave, hub.misbehave_on = mode, "search"
    began = time.monotonic()
    try:
        repos = search_repos("model")
    except HubError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:  # what came back is usable as it is
        for r in repos:
            assert isinstance(r.repo_id, str) and r.repo_id
            assert r.downloads is None or isinstance(r.downloads, int)
            assert r.likes is None or isinstance(r.likes, int)
    assert time.monotonic() - began < DEADLINE + 2


def test_wrong_types_in_a_tree_listing_are_refused_not_shown(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    hub.add_repo("o/sizes", {"a-Q4_K_M.gguf": b"x"})
    from tests.support import fake_hub

    original = fake_hub._Handler._file_entry

    def bad_size(self, repo, name):
        entry = original(self, repo, name)
        entry["size"] = entry["lfs"]["size"] = "12 GB"
        return entry

    monkeypatch.setattr(fake_hub._Handler, "_file_entry", bad_size)
    with pytest.raises(HubError, match=r"not a number of bytes|unexpected shape"):
        list_quants("o/sizes")


def test_the_limits_are_the_documented_ones():
    text = Path(__file__).parents[1].joinpath("docs", "models.md").read_text(encoding="utf-8")
    assert hub_client.MAX_BODY == 4 << 20 and "4 MiB" in text
    assert hub_client.DEFAULT_DEADLINE == 60 and "GGUF_TUI_HUB_DEADLINE" in text
    assert hub_client.MIN_RATE == 1024 and "1 KiB/s" in text
    assert f"{RSS_BOUND_MIB} MiB" in text
