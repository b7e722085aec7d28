"""Per-file header summaries, cached in a JSON file by (path, size, mtime).

Reading a header costs 30-80 ms (the vocabulary must be stepped over); a folder of
models is scanned at every start. The summary keeps only what the catalog shows, so a
second scan of an unchanged tree reads no header at all. A cache file that cannot be
read is ignored and rewritten; it is a cache, never the only copy of anything.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from gguf_tui.models.gguf_checks import check_model, check_tensor_table
from gguf_tui.models.gguf_file import GGUFError, HeaderCancelled, read_header, shown
from gguf_tui.models.memory import kv_bytes_per_token

CACHE_VERSION = 2  # 2: files llama.cpp would abort on are summarized as broken


@dataclass(slots=True)
class FileSummary:
    """What the catalog needs from one GGUF file (one shard)."""

    size: int
    mtime_ns: int
    error: str | None = None
    architecture: str | None = None
    name: str | None = None  # general.name
    size_label: str | None = None  # general.size_label
    file_type: int | None = None
    context_length: int | None = None
    has_chat_template: bool = False
    split_count: int = 0
    n_params: int = 0
    tensor_bytes: int = 0  # the weights: the tensor data region, not the header
    kv_bytes_per_token: int | None = None


def summarize(
    path: Path, size: int, mtime_ns: int, cancelled: Callable[[], bool] | None = None
) -> FileSummary:
    """Read one file's header; a broken file gives a summary with `error` set. Raises only
    HeaderCancelled, once `cancelled()` turns true."""
    try:
        header = read_header(path, cancelled=cancelled)
        check_tensor_table(header)
        if not header.get("split.no"):  # later shards carry no hyperparameters
            check_model(header)
    except HeaderCancelled:
        raise
    except GGUFError as exc:
        return FileSummary(size, mtime_ns, error=str(exc))
    end = header.data_end
    if end is not None and end > size:
        error = f"{path.name} is truncated: {size:,} of {end:,} bytes ({size / end:.0%})"
        return FileSummary(size, mtime_ns, error=error)
    md = header.metadata
    arch = md.get("general.architecture")
    arch = arch if isinstance(arch, str) else None
    sizes = [t.n_bytes for t in header.tensors]
    tensor_bytes = (
        sum(s for s in sizes if s is not None)
        if None not in sizes
        else max(0, size - header.data_offset)
    )
    split = md.get("split.count", 0)
    ctx = md.get(f"{arch}.context_length") if arch else None
    return FileSummary(
        size=size,
        mtime_ns=mtime_ns,
        architecture=arch,
        name=_str(md.get("general.name")),
        size_label=_str(md.get("general.size_label")),
        file_type=file_type if isinstance(file_type := md.get("general.file_type"), int) else None,
        context_length=ctx if isinstance(ctx, int) else None,
        has_chat_template=isinstance(md.get("tokenizer.chat_template"), str),
        split_count=split if isinstance(split, int) else 0,
        n_params=header.n_params,
        tensor_bytes=tensor_bytes,
        kv_bytes_per_token=kv_bytes_per_token(md),
    )


def unreadable(path: Path, exc: OSError) -> FileSummary | None:
    """A broken entry for a name the walk found but cannot stat (a dangling link, a loop of
    links, no permission): listed with the reason instead of left out without a word.
    None when the name itself has gone (deleted during the scan)."""
    try:
        is_link = path.is_symlink()
    except OSError:
        is_link = False
    name = shown(path.name)
    if exc.errno == errno.ELOOP:
        error = f"{name} is a loop of symbolic links"
    elif is_link and isinstance(exc, FileNotFoundError):
        try:
            target = shown(str(path.readlink()), 120)
        except OSError:
            target = "?"
        error = f"{name} is a link to {target}, which does not exist"
    elif isinstance(exc, FileNotFoundError):
        return None
    else:
        error = f"cannot read {name}: {exc.strerror or exc}"
    return FileSummary(0, 0, error=error)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class ScanCache:
    """The JSON cache; `hits` and `misses` count lookups since it was opened."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.entries: dict[str, FileSummary] = self._load() if file else {}
        self.used: set[str] = set()
        self.changed = False
        self.hits = 0
        self.misses = 0

    def _load(self) -> dict[str, FileSummary]:
        assert self.file is not None
        try:
            raw = json.loads(self.file.read_text(encoding="utf-8"))
            if raw.get("version") != CACHE_VERSION:
                return {}
            known = {f.name for f in fields(FileSummary)}
            return {
                key: FileSummary(**{k: v for k, v in value.items() if k in known})
                for key, value in raw["files"].items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}  # missing or corrupt: start afresh, the next save rewrites it

    def summary(
        self, path: Path, cancelled: Callable[[], bool] | None = None
    ) -> FileSummary | None:
        """The cached summary if (size, mtime) still match, else a fresh one; None if gone.
        A name that cannot be stat'ed at all gives a broken entry saying why (never cached)."""
        try:
            st = path.stat()
        except OSError as exc:
            return unreadable(path, exc)
        key = os.path.realpath(path)
        self.used.add(key)
        cached = self.entries.get(key)
        if cached is not None and (cached.size, cached.mtime_ns) == (st.st_size, st.st_mtime_ns):
            self.hits += 1
            return cached
        self.misses += 1
        fresh = summarize(path, st.st_size, st.st_mtime_ns, cancelled)
        self.entries[key] = fresh
        self.changed = True
        return fresh

    def save(self) -> None:
        """Write atomically; entries of files that no longer exist are dropped."""
        if self.file is None:
            return
        stale = [k for k in self.entries if k not in self.used and not Path(k).exists()]
        for key in stale:
            del self.entries[key]
        if not (self.changed or stale):
            return
        data = {"version": CACHE_VERSION, "files": {k: asdict(v) for k, v in self.entries.items()}}
        with contextlib.suppress(OSError):
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".scan-cache.", dir=self.file.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh)
                Path(tmp).replace(self.file)
            finally:
                Path(tmp).unlink(missing_ok=True)
