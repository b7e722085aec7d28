"""Download a model's files from the Hub, with progress and cancellation.

Progress comes through a `tqdm_class` given to `hf_hub_download`: its `update()` is called
with every chunk, which is where progress is reported and where a cancel request raises
`DownloadCancelled`. That stops a plain-HTTP transfer within one chunk (xet transfers are
switched off for this reason, see client.py). huggingface_hub writes each file to a
uniquely named `*.incomplete` file and deletes it when the transfer fails, so a cancelled
or failed download leaves nothing behind; the next download of that file starts again.

Shards are fetched with the first shard last: until the whole set is there, no file that
a loader would open first exists, and the scan shows the set as incomplete.

Nothing is written outside the cache (or `local_dir`): every file name, the revision, and
each file's ETag and commit as the Hub reports them are checked before the first byte is
downloaded (huggingface_hub makes paths of all four); one that could point elsewhere is an
`UnsafeHubAnswer`. The client checks the ETag and commit of every later answer the same
way (client.py), so a Hub cannot pass this check and then answer differently.
"""

from __future__ import annotations

import collections
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gguf_tui.models.hub.cache import cached_ggufs, repo_folder
from gguf_tui.models.hub.client import (
    HubEnv,
    check_file_answer,
    hub_session,
    is_safe_path,
)
from gguf_tui.models.hub.errors import (
    DiskFull,
    DownloadCancelled,
    HubOffline,
    UnsafeHubAnswer,
    quoted,
)
from gguf_tui.models.units import format_bytes

# progress(done_bytes, total_bytes, bytes_per_second, eta_seconds or None)
ProgressCallback = Callable[[int, int, float, float | None], None]

_REPORT_EVERY = 0.1  # seconds between progress calls
_SPEED_WINDOW = 3.0  # seconds of history behind the speed figure
_DISK_MARGIN = 64 << 20  # leave some room: a disk filled to the last byte breaks other programs


class _Tracker:
    """Bytes done across every file of one download; reports and checks for cancel."""

    def __init__(
        self, total: int, progress: ProgressCallback | None, cancel: threading.Event | None
    ):
        self.total = total
        self.progress = progress
        self.cancel = cancel
        self.finished = 0  # bytes of the files already complete
        self.current = 0  # bytes of the file being transferred
        self.reported = -1
        self.last_report = 0.0
        self.samples: collections.deque[tuple[float, int]] = collections.deque()

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled("download cancelled")

    def add(self, n: float) -> None:
        self.current = max(0, self.current + int(n))
        self.check_cancel()
        self.report()

    def file_done(self, size: int) -> None:
        self.finished += size
        self.current = 0
        self.report(force=True)

    def report(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_report < _REPORT_EVERY:
            return
        done = min(self.total, max(self.reported, self.finished + self.current))
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > _SPEED_WINDOW:
            self.samples.popleft()
        t0, d0 = self.samples[0]
        speed = (done - d0) / (now - t0) if now > t0 else 0.0
        eta = (self.total - done) / speed if speed > 0 else (0.0 if done >= self.total else None)
        self.last_report = now
        if self.progress is not None and (force or done != self.reported):
            self.progress(done, self.total, speed, eta)
        self.reported = done


def _bar_class(tracker: _Tracker) -> type:
    from huggingface_hub.utils import tqdm as hf_tqdm

    class ProgressBar(hf_tqdm):
        """Draws nothing; hands every chunk to the tracker (which may raise to cancel)."""

        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            tracker.current = int(kwargs.get("initial") or 0)

        def update(self, n=1):
            tracker.add(n or 0)
            return super().update(n)

    return ProgressBar


def download(
    repo_id: str,
    filenames: Sequence[str],
    *,
    local_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    revision: str | None = None,
    env: HubEnv | None = None,
) -> Path:
    """Download every file (all shards of a split model) and return the first one's path.

    Files go to the Hugging Face cache, or into `local_dir` keeping their repository paths.
    Runs in the calling thread; `progress` is called from it at most ten times a second and
    once at the end with done == total. Setting `cancel` stops the transfer within one
    chunk and raises DownloadCancelled. Every failure is a HubError.
    """
    if not filenames:
        raise ValueError("no files to download")
    env = env or HubEnv.from_environ()
    names = list(filenames)
    check_names(repo_id, names, revision)
    if env.offline:
        return _offline(repo_id, names, local_dir, env)
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    sizes: dict[str, int] = {}
    commit = None
    for name in names:
        with hub_session(env, repo_id=repo_id, filename=name):
            url = hf_hub_url(repo_id, name, revision=revision, endpoint=env.endpoint)
            meta = get_hf_file_metadata(url, token=env.token or False, timeout=env.timeout)
        check_file_answer(name, meta.etag, meta.commit_hash, env.endpoint)
        size = meta.size
        sizes[name] = size if isinstance(size, int) and size > 0 else 0
        commit = commit or meta.commit_hash
    present = {n: p for n in names if (p := _present(repo_id, n, sizes[n], commit, local_dir, env))}
    target = local_dir if local_dir is not None else env.cache_dir
    _check_space(target, sum(s for n, s in sizes.items() if n not in present))

    tracker = _Tracker(sum(sizes.values()), progress, cancel)
    tracker.finished = sum(sizes[n] for n in present)
    tracker.report(force=True)
    bar = _bar_class(tracker)
    paths = dict(present)
    for name in [*names[1:], names[0]]:  # the first shard last
        if name in paths:
            continue
        tracker.check_cancel()
        transfer = hub_session(
            env, repo_id=repo_id, filename=name, transfer=sizes[name], cancel=cancel
        )
        with transfer:
            path = hf_hub_download(
                repo_id,
                name,
                revision=revision,
                cache_dir=env.cache_dir,
                local_dir=local_dir,
                token=env.token or False,
                endpoint=env.endpoint,
                etag_timeout=env.timeout,
                tqdm_class=bar,
            )
        paths[name] = Path(path)
        tracker.file_done(sizes[name])
    return paths[names[0]]


def check_names(repo_id: str, names: Sequence[str], revision: str | None = None) -> None:
    """Refuse file names (and a revision) that would be written outside the download folder:
    `..`, an absolute path, a drive, a backslash, a control character."""
    for name in names:
        if not is_safe_path(name):
            raise UnsafeHubAnswer(
                f"refusing to download {quoted(name)} from {repo_id}: that name would be "
                "written outside the download folder (it has '..', an absolute path, a "
                "backslash or a control character); nothing was written"
            )
    if revision is not None and not is_safe_path(revision):
        raise UnsafeHubAnswer(
            f"refusing the revision {quoted(revision)} of {repo_id}: it would become a path "
            "outside the cache; nothing was written"
        )


def _present(
    repo_id: str, name: str, size: int, commit: str | None, local_dir: Path | None, env: HubEnv
) -> Path | None:
    """The file, if this exact version is already where it would be downloaded to."""
    if local_dir is not None:
        path = local_dir / name
    elif commit:
        path = repo_folder(env.cache_dir, repo_id) / "snapshots" / commit / name
    else:
        return None
    try:
        return path if path.is_file() and (not size or path.stat().st_size == size) else None
    except OSError:
        return None


def _offline(repo_id: str, names: list[str], local_dir: Path | None, env: HubEnv) -> Path:
    if local_dir is not None:
        found = {n: local_dir / n for n in names if (local_dir / n).is_file()}
    else:
        cached = {f.path_in_repo: f.path for f in cached_ggufs(env.cache_dir, repo_id)}
        found = {n: cached[n] for n in names if n in cached}
    missing = [n for n in names if n not in found]
    if missing:
        raise HubOffline(
            f"offline mode is on (HF_HUB_OFFLINE) and {', '.join(missing)} from {repo_id} "
            "is not downloaded yet"
        )
    return found[names[0]]


def _check_space(folder: Path, needed: int) -> None:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return
    if needed and free < needed + _DISK_MARGIN:
        raise DiskFull(
            f"not enough disk space in {folder}: the download needs {format_bytes(needed)}, "
            f"{format_bytes(free)} is free"
        )
