"""GGUF files already in the Hugging Face cache, found without the network.

The cache holds `models--OWNER--NAME/snapshots/COMMIT/PATH` links into `blobs/`; a file
downloaded at two commits appears in two snapshots. Unfinished downloads are
`blobs/*.incomplete` and never appear in a snapshot, so a snapshot entry is a whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_PREFIX = "models--"


@dataclass(frozen=True, slots=True)
class CachedFile:
    repo_id: str
    path_in_repo: str  # with forward slashes, as on the Hub
    path: Path  # the snapshot entry; keep it (not the blob) so shards sit side by side
    commit: str


def repo_folder(cache_dir: Path, repo_id: str) -> Path:
    return cache_dir / (_PREFIX + repo_id.replace("/", "--"))


def repo_id_of(folder_name: str) -> str | None:
    """`models--owner--name` -> `owner/name`."""
    if not folder_name.startswith(_PREFIX):
        return None
    owner, sep, name = folder_name[len(_PREFIX) :].partition("--")
    return f"{owner}/{name}" if sep and owner and name else None


def cached_repos(cache_dir: Path) -> list[str]:
    try:
        names = sorted(p.name for p in Path(cache_dir).iterdir())
    except OSError:
        return []
    return [rid for n in names if (rid := repo_id_of(n))]


def cached_ggufs(cache_dir: Path, repo_id: str) -> list[CachedFile]:
    """Every cached .gguf of one repo, one entry per path (the newest snapshot wins).

    The snapshot `refs/main` points at comes first, so an older download of a file
    is used only when the current commit does not have it.
    """
    folder = repo_folder(cache_dir, repo_id)
    snapshots = folder / "snapshots"
    try:
        commits = [e for e in os.scandir(snapshots) if e.is_dir()]
    except OSError:
        return []
    main = _read_ref(folder / "refs" / "main")
    commits.sort(key=lambda e: (e.name != main, -_mtime(e.path)))
    found: dict[str, CachedFile] = {}
    for entry in commits:
        for path in _walk_ggufs(Path(entry.path)):
            rel = path.relative_to(entry.path).as_posix()
            if rel not in found and path.exists():  # a dangling link is a deleted blob
                found[rel] = CachedFile(repo_id, rel, path, entry.name)
    return sorted(found.values(), key=lambda f: f.path_in_repo)


def all_cached_ggufs(cache_dir: Path) -> Iterator[CachedFile]:
    for repo_id in cached_repos(cache_dir):
        yield from cached_ggufs(cache_dir, repo_id)


def _walk_ggufs(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.lower().endswith(".gguf"):
                yield Path(dirpath) / name


def _read_ref(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _mtime(path: str) -> float:
    try:
        return Path(path).lstat().st_mtime
    except OSError:
        return 0.0
