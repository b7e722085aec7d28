"""Downloads that outlive the screen that started them.

A download runs in a thread (huggingface_hub is blocking); its progress is
written to a small dataclass, and `listener` (set by the app) is called from that
thread on each change, for the app to publish the task on its own thread: screens
observe `app.download`, so closing the picker neither stops the download nor
hides it: the status line keeps showing it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gguf_tui.models.units import format_bytes

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


@dataclass
class DownloadTask:
    repo_id: str
    quant: str
    filenames: list[str]
    local_dir: Path | None = None
    state: str = QUEUED
    done_bytes: int = 0
    total_bytes: int = 0
    speed: float = 0.0
    eta: float | None = None
    path: Path | None = None  # the first shard, once downloaded
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    cancel: threading.Event = field(default_factory=threading.Event)
    # Called on the download thread after each change (the app hands it to its own).
    listener: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.repo_id}:{self.quant}"

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def on_progress(self, done: int, total: int, speed: float, eta: float | None) -> None:
        """Called from the download thread (at most ten times a second)."""
        self.state = RUNNING
        self.done_bytes, self.total_bytes, self.speed, self.eta = done, total, speed, eta
        self.changed()

    def changed(self) -> None:
        if self.listener is not None:
            self.listener()

    def describe(self) -> str:
        if self.state == DONE:
            return f"{self.label}: downloaded ({format_bytes(self.total_bytes)})"
        if self.state == FAILED:
            return f"{self.label}: {self.error}"
        if self.state == CANCELLED:
            return f"{self.label}: cancelled"
        if not self.total_bytes:
            return f"{self.label}: starting …"
        eta = f" · {self.eta:.0f} s left" if self.eta is not None else ""
        return (
            f"{self.label}: {format_bytes(self.done_bytes)} of "
            f"{format_bytes(self.total_bytes)} · {format_bytes(self.speed)}/s{eta}"
        )


def run_download(task: DownloadTask) -> None:
    """Blocking: fetch every file of the task; the outcome is recorded on it."""
    from gguf_tui.models.hub.download import download
    from gguf_tui.models.hub.errors import DownloadCancelled, HubError

    task.state = RUNNING
    task.changed()
    try:
        task.path = download(
            task.repo_id,
            task.filenames,
            local_dir=task.local_dir,
            progress=task.on_progress,
            cancel=task.cancel,
        )
        task.state = DONE
    except DownloadCancelled:
        task.state = CANCELLED
    except HubError as exc:
        task.state, task.error = FAILED, str(exc)
    except OSError as exc:
        task.state, task.error = FAILED, f"cannot write the file: {exc.strerror or exc}"
    except Exception as exc:  # never a crash of the app for one download
        log.exception("download of %s failed", task.label)
        task.state, task.error = FAILED, f"the download failed ({type(exc).__name__}: {exc})"
