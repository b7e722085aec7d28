"""The picker's Hugging Face tab against a hostile Hub on loopback, in a real terminal:
a download that would write outside the cache is refused with a message (no crash, nothing
written), names from the Hub reach the terminal inert, a broken listing is one message,
and ctrl+x stops a download that trickles at once. The payloads are tests/support/
fake_hub.py's misbehaviour switches; the limits are docs/models.md's."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.fake_hub import FakeHub, bomb
from tests.terminal.harness import ENTER, Home, ctrl, launched

SIZES = [(80, 24), (120, 40)]
REPO = "hostile-org/model-GGUF"
NAMES_REPO = "hostile-org/names-GGUF"
BODY = b"GGUF" + bytes(4092)
OSC_TITLE = "\x1b]0;pwned\x07"  # would retitle the terminal
DEADLINE = 4


@pytest.fixture(scope="module")
def bombs():
    bomb("gzip")  # made once, before a server thread needs it (a few seconds)


@pytest.fixture
def hub(bombs):
    with FakeHub(drip_every=0.5) as hub:
        hub.add_repo(REPO, {"model-Q4_K_M.gguf": BODY})
        hub.add_repo(NAMES_REPO, {f"{OSC_TITLE}evil-Q4_K_M.gguf": BODY})
        yield hub


def hub_home(tmp_path: Path, hub: FakeHub, **extra: str) -> Home:
    env = {
        "HF_ENDPOINT": hub.url,
        "HF_HUB_OFFLINE": "0",
        "GGUF_TUI_HUB_TIMEOUT": "2",
        "GGUF_TUI_HUB_DEADLINE": str(DEADLINE),
        **extra,
    }
    home = Home(tmp_path / "home", extra_env=env)
    home.root.mkdir(parents=True, exist_ok=True)
    return home


def listing(root: Path, allowed: list[Path]) -> set[str]:
    """Every path under `root` that is not inside one of `allowed`."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if not any(path == a or a in path.parents for a in allowed):
                found.add(str(path.relative_to(root)))
    return found


def allowed_dirs(home: Home) -> list[Path]:
    """Where the app may write: the HF cache (XDG_CACHE_HOME/huggingface), its data,
    state, config and cache folders; the folders above them only as folders."""
    root = home.root
    return [
        root / ".cache" / "huggingface",
        root / ".cache" / "gguf-tui",
        home.data,
        root / ".local" / "state" / "gguf-tui",
        home.config,
    ]


def created_outside(tmp_path: Path, home: Home, before: set[str]) -> set[str]:
    parents = {".cache", ".local", ".local/share", ".local/state", ".config"}
    after = listing(tmp_path, allowed_dirs(home))
    return {p for p in after - before if p.removeprefix("home/") not in parents}


def open_repo(term, repo: str) -> str:
    term.wait_for("Choose a model", 60, "the picker")
    term.write(ctrl("g"))
    term.wait_for("Type a search", 10, "the Hugging Face view")
    term.type_line(repo)
    return term.wait_for("good default", 30, "the quantizations")


def no_raw_escape(term) -> None:
    raw = bytes(term.raw)
    assert b"\x1b]0;pwned" not in raw and b"pwned\x07" not in raw
    assert b"\x1b]0;" not in raw.replace(b"\x1b]0;gguf-tui", b"")  # the app's own title only


@pytest.mark.parametrize("size", SIZES)
def test_a_download_whose_etag_is_a_path_is_refused_and_writes_nothing(tmp_path, hub, size):
    hub.etag = '"../../../../outside/x"'  # from the cache's blobs/ up to ~/.cache/outside
    home = hub_home(tmp_path, hub)
    before = listing(tmp_path, allowed_dirs(home))
    with launched(home, cols=size[0], rows=size[1]) as term:
        open_repo(term, REPO)
        term.write(ENTER)  # download and load the only quantization
        term.wait_for("nothing was written", 30, "the refusal")
        flat = term.flat()
        assert "refusing to download" in flat and "not a file hash" in flat, flat
        assert "Traceback" not in term.tail(20000)
        assert term.quit() == 0
    assert not created_outside(tmp_path, home, before)
    # The listing reads the first MiB of the file for its memory estimate (a Range GET, kept
    # in memory); the download itself never asked for the file.
    gets = [r for r in hub.requests if r.method == "GET" and "/resolve/" in r.path]
    assert all(r.headers.get("Range") == "bytes=0-1048575" for r in gets), gets
    assert not list(home.root.rglob("*.gguf")) and not list(home.root.rglob("*.incomplete"))


@pytest.mark.parametrize("size", SIZES)
def test_a_file_name_with_an_escape_is_refused_and_shown_inert(tmp_path, hub, size):
    home = hub_home(tmp_path, hub)
    before = listing(tmp_path, allowed_dirs(home))
    with launched(home, cols=size[0], rows=size[1]) as term:
        open_repo(term, NAMES_REPO)
        term.write(ENTER)
        term.wait_for("outside the download folder", 30, "the refusal")
        assert "\\x1b]0;pwned\\x07evil" in term.flat()  # written out, not obeyed
        no_raw_escape(term)
        assert term.quit() == 0
    assert not created_outside(tmp_path, home, before)


@pytest.mark.parametrize(
    ("mode", "kind", "message"),
    [
        ("wrong-types", "tree", "JSON of an unexpected shape"),
        ("not-a-list", "info", "JSON of an unexpected shape"),
        ("html", "info", "not JSON"),
        ("redirect-loop", "tree", "redirect loop"),
        ("gzip-bomb", "info", "stopped reading there"),
        ("drip-headers", "info", "too slowly"),
    ],
)
def test_a_broken_listing_is_a_message_in_bounded_time(tmp_path, hub, mode, kind, message):
    hub.misbehave, hub.misbehave_on = mode, kind
    home = hub_home(tmp_path, hub)
    with launched(home, cols=80, rows=24) as term:
        term.wait_for("Choose a model", 60, "the picker")
        term.write(ctrl("g"))
        term.wait_for("Type a search", 10, "the Hugging Face view")
        began = time.monotonic()
        term.type_line(REPO)
        term.wait_for(message, 2 * DEADLINE + 10, "the Hub's failure")
        assert time.monotonic() - began < 2 * DEADLINE + 5
        assert term.quit() == 0


@pytest.mark.parametrize("size", SIZES)
def test_ctrl_x_stops_a_trickling_download_at_once(tmp_path, hub, size):
    """A byte every half second: no read times out and no chunk fills; ctrl+x must still
    end it within a second."""
    hub.misbehave, hub.misbehave_on = "drip-body", "file"  # the listing's probe is served
    home = hub_home(tmp_path, hub, GGUF_TUI_HUB_TIMEOUT="30", GGUF_TUI_HUB_DEADLINE="60")
    with launched(home, cols=size[0], rows=size[1]) as term:
        open_repo(term, REPO)
        term.write(ENTER)
        term.wait_for("Cancel", 30, "ctrl+x offered in the footer")
        assert hub.wait_for(lambda: hub.bodies_in_flight == 1 and hub.body_bytes_sent > 0, 10)
        term.write(ctrl("x"))
        began = time.monotonic()
        term.wait_for("cancelled", 10, "the cancel")
        assert time.monotonic() - began < 1.5
        assert hub.wait_for(lambda: hub.bodies_in_flight == 0, 5), "the connection is closed"
        assert term.quit() == 0
    assert not list(home.root.rglob("*.gguf")) and not list(home.root.rglob("*.incomplete"))
