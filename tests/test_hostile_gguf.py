"""Hostile GGUF files built by hand (issue 16): split names that cannot be, headers that
declare billions of entries in a sparse file, strings of 64 MiB, and names that `list`
used to leave out without a word. Every case ends in one plain line, within a stated time
and memory bound, in the reader, in `list` and in `run`.

Figures are measured with tests/support/measured.py (the command's own peak RSS).
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from gguf_tui.models.catalog import scan
from gguf_tui.models.gguf_checks import check_loadable
from gguf_tui.models.gguf_file import MAX_KEPT_STRING, GGUFError, read_header
from tests.support.hostile_gguf import base_model
from tests.support.measured import run_measured

_STRING, _ARRAY = 8, 9
LIST_SECONDS = 20.0  # a whole `list` of every file below, interpreter start included
LIST_MIB = 200


def plain(message: str) -> bool:
    text = message.strip()
    return (
        "Traceback" not in text
        and "\n" not in text
        and all(c.isprintable() for c in text)
        and 10 < len(text) < 400
    )


def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def header(n_tensors: int, kvs: list[bytes]) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kvs)) + b"".join(kvs)


def kv_string(key: str, value: str) -> bytes:
    return _s(key) + struct.pack("<I", _STRING) + _s(value)


def sparse(path: Path, head: bytes, size: int) -> Path:
    """`head`, then zeros up to `size` bytes that take no room on disk."""
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


def string_array(path: Path, key: str, count: int, size: int) -> Path:
    """A header whose first key is an array of `count` strings; the rest of the file (zeros:
    empty strings) is sparse."""
    head = header(
        0,
        [
            kv_string("general.architecture", "llama"),
            _s(key) + struct.pack("<IIQ", _ARRAY, _STRING, count),
        ],
    )
    return sparse(path, head, size)


def big_strings(path: Path, n: int, each: int) -> Path:
    """`n` keys of `each` bytes of text (zeros, written sparse)."""
    with path.open("wb") as fh:
        fh.write(b"GGUF" + struct.pack("<IQQ", 3, 0, n))
        for i in range(n):
            fh.write(_s(f"hostile.big{i}") + struct.pack("<IQ", _STRING, each))
            fh.seek(each, os.SEEK_CUR)
        fh.truncate()
    return path


# -- the header reader ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "key", "count", "size", "says"),
    [
        # 6.7 billion strings in a 100 GiB sparse file: 8 bytes each would fit, hours to walk.
        ("billions", "tokenizer.ggml.merges", 6_700_000_000, 100 << 30, "6,700,000,000 strings"),
        ("ten-million-tokens", "tokenizer.ggml.tokens", 10**7, 90 << 20, "10,000,000 tokens"),
        ("more-than-the-file", "tokenizer.ggml.merges", 1_000_000, 4096, "ends in the middle"),
    ],
)
def test_impossible_counts_are_refused_at_once(tmp_path, name, key, count, size, says):
    path = string_array(tmp_path / f"{name}.gguf", key, count, size)
    began = time.monotonic()
    with pytest.raises(GGUFError) as caught:
        read_header(path)
    assert time.monotonic() - began < 0.5
    message = str(caught.value)
    assert plain(message) and says in message and path.name in message, message


def test_a_vocabulary_under_the_cap_is_walked_within_the_time_bound(tmp_path):
    # 2,000,000 empty tokens (under MAX_TOKENS): stepped over, within PARSE_SECONDS.
    path = string_array(tmp_path / "two-million.gguf", "tokenizer.ggml.tokens", 2_000_000, 32 << 20)
    began = time.monotonic()
    read_header(path)  # no error: empty tokens are legal (llama.cpp names them [EMPTY_i])
    assert time.monotonic() - began < 6.0


def test_duplicate_tokens_are_still_found(tmp_path):
    tokens = [b"a", b"b", b"c", b"b"]
    body = b"".join(_s(t) for t in tokens)
    head = header(
        0,
        [
            kv_string("general.architecture", "llama"),
            _s("tokenizer.ggml.tokens") + struct.pack("<IIQ", _ARRAY, _STRING, 100) + body,
        ],
    )
    path = tmp_path / "dupes.gguf"
    # 96 more distinct tokens after the duplicate pair
    path.write_bytes(head + b"".join(_s(f"t{i}") for i in range(96)))
    with pytest.raises(GGUFError, match=r"lists the token 'b' twice \(ids 1 and 3\)"):
        read_header(path)


def test_huge_strings_are_stepped_over_not_read(tmp_path):
    """30 keys of 64 MiB each took 4 GB; now none is read (each is noted in `skipped`)."""
    path = big_strings(tmp_path / "big-strings.gguf", 30, 64 << 20)
    m = run_measured("list", path, "--data-dir", tmp_path / "data", timeout=LIST_SECONDS + 10)
    assert m.rc == 0, m.stderr
    assert m.wall < LIST_SECONDS and m.peak_mib < LIST_MIB, (m.wall, m.peak_mib)
    assert "no general.architecture" in m.stdout + m.stderr
    h = read_header(path, tensors=False)
    assert len(h.skipped) == 30 and not h.metadata
    assert all(n == 64 << 20 for n in h.skipped.values())


def test_a_template_over_the_kept_size_is_named(tmp_path):
    from gguf_tui.commands.run import run as _  # noqa: F401  (the command imports cleanly)

    big = "x" * (MAX_KEPT_STRING + 1)
    path = tmp_path / "big-template.gguf"
    path.write_bytes(
        header(
            0,
            [kv_string("general.architecture", "llama"), kv_string("tokenizer.chat_template", big)],
        )
    )
    h = read_header(path, tensors=False)
    assert h.skipped == {"tokenizer.chat_template": MAX_KEPT_STRING + 1}
    assert "tokenizer.chat_template" not in h.metadata


# -- split names ------------------------------------------------------------------------------
def test_impossible_split_names_are_broken_not_ready(tmp_path):
    model = base_model().read_bytes()
    zero = tmp_path / "tiny-00001-of-00000.gguf"
    seven = tmp_path / "tiny-00007-of-00003.gguf"
    lone = tmp_path / "lone-00001-of-99999.gguf"
    for p in (zero, seven, lone):
        p.write_bytes(model)
    for p in (zero, seven):
        with pytest.raises(GGUFError) as caught:
            check_loadable(p)
        assert plain(str(caught.value)) and "cannot be" in str(caught.value)
    with pytest.raises(GGUFError) as caught:
        check_loadable(lone)
    assert plain(str(caught.value)) and "99,998 of its 99,999 files" in str(caught.value)
    models = {m.path.name: m for m in scan([tmp_path], hf_cache=None)}
    assert not models[zero.name].usable and "cannot be" in models[zero.name].error
    assert not models[seven.name].usable
    assert not models[lone.name].usable and plain(models[lone.name].error)
    assert len(models[lone.name].missing_shards) <= 8


@pytest.mark.parametrize("name", ["tiny-00001-of-00000.gguf", "lone-00001-of-99999.gguf"])
def test_run_gives_one_short_line_for_an_impossible_split(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(base_model().read_bytes())
    m = run_measured("run", path, "hi", "--data-dir", tmp_path / "data", timeout=60)
    assert m.rc == 2, (m.rc, m.stderr[-2000:])
    lines = m.stderr.strip().splitlines()
    assert len(lines) == 1 and plain(lines[0]) and lines[0].startswith("gguf-tui: error:"), lines
    assert "Traceback" not in m.stderr and len(m.stderr) < 400


# -- what `list` used to leave out ------------------------------------------------------------
def test_list_names_what_it_cannot_use(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "dangling.gguf").symlink_to(folder / "nowhere.gguf")
    (folder / "loop-a.gguf").symlink_to(folder / "loop-b.gguf")
    (folder / "loop-b.gguf").symlink_to(folder / "loop-a.gguf")
    (folder / "folder.gguf").mkdir()
    string_array(folder / "sparse.gguf", "tokenizer.ggml.merges", 6_700_000_000, 100 << 30)
    string_array(folder / "ten-million.gguf", "tokenizer.ggml.tokens", 10**7, 90 << 20)
    before = {p.name: os.lstat(p) for p in folder.iterdir()}
    m = run_measured("list", folder, "--data-dir", tmp_path / "data", timeout=LIST_SECONDS + 10)
    assert m.rc == 0, m.stderr
    assert m.wall < LIST_SECONDS and m.peak_mib < LIST_MIB, (m.wall, m.peak_mib)
    out = m.stdout + m.stderr
    assert "Traceback" not in out
    assert "dangling.gguf is a link to" in out and "does not exist" in out
    assert "loop-a.gguf is a loop of symbolic links" in out
    assert "folder.gguf is a folder" in out
    assert "6,700,000,000 strings" in out and "10,000,000 tokens" in out
    after = {p.name: os.lstat(p) for p in folder.iterdir()}
    assert {k: (v.st_mtime_ns, v.st_size) for k, v in before.items()} == {
        k: (v.st_mtime_ns, v.st_size) for k, v in after.items()
    }


def test_a_cancelled_scan_ends_at_once_and_caches_nothing_false(tmp_path):
    import threading

    folder = tmp_path / "slow"
    folder.mkdir()
    for i in range(6):  # each ~3 s to walk: 4,194,304 empty strings, under every cap
        string_array(folder / f"slow-{i}.gguf", "tokenizer.ggml.merges", 1 << 22, 40 << 20)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    cache = tmp_path / "scan-cache.json"
    began = time.monotonic()
    models = scan([folder], hf_cache=None, cache_file=cache, cancelled=stop.is_set)
    assert time.monotonic() - began < 1.5
    assert models == []  # the first header was cut short: not listed, not cached as broken
    assert "cancelled" not in (cache.read_text() if cache.exists() else "")
