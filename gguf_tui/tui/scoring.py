"""The chat's "Score this conversation": one run at a time, in a thread, its progress
and then its figures in the conversation header.

The run itself is the core's (gguf_tui/quality/conversation.py); this holds what the
screen needs around it: which conversation and model it is for, how far it got,
and the escape that stops it. It never touches a widget: the screen asks for the
header line and is told when it changed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel

from gguf_tui.quality.scorer import Progress

if TYPE_CHECKING:
    from gguf_tui.tui.app import GgufTuiApp


@dataclass
class _Run:
    conversation_id: int
    model: Path
    quant: str
    cancel: threading.Event
    progress: str = "loading the reference"


class ConversationScoring:
    """Scores the open conversation with the model in use against its reference."""

    def __init__(self, app: GgufTuiApp, changed: Callable[[], None]) -> None:
        self.app = app
        self._changed = changed  # called on the UI thread when the header line changed
        self._run: _Run | None = None

    @property
    def running(self) -> bool:
        return self._run is not None

    def start(self, conversation_id: int | None) -> None:
        app = self.app
        info = app.engine.info
        if self._run is not None:
            app.notify("A conversation is already being scored (escape stops it).")
            return
        if conversation_id is None or not app.store.messages(conversation_id, limit=1):
            app.notify("There is nothing to score yet: the conversation is empty.")
            return
        if info is None or info.path is None:
            app.notify(
                "Scoring needs a model on this machine: a server's quantization cannot be "
                "compared token by token."
            )
            return
        run = self._run = _Run(conversation_id, info.path, info.quant, threading.Event())
        app.notify(
            f"Scoring {info.quant} on this conversation against its highest-precision "
            "sibling (loaded beside the chat's model while it runs); escape stops it.",
            title="Quality",
            timeout=8,
        )
        self._changed()
        app.run_worker(
            lambda: self._score(run), thread=True, group="score", name="score conversation"
        )

    def stop(self) -> bool:
        """Escape: stop the run between two chunks. False when none is running."""
        if self._run is None:
            return False
        self._run.cancel.set()
        return True

    def header_line(self, conversation_id: int | None) -> str:
        """What the header says about quality: the run in progress for this
        conversation, else the newest kept score of the model in use on it."""
        run = self._run
        if run is not None and run.conversation_id == conversation_id:
            return f"Scoring {run.quant} on this conversation: {run.progress} · escape stops"
        info = self.app.engine.info
        if conversation_id is None or info is None or info.path is None:
            return ""
        from gguf_tui.quality.conversation import describe, kept_score

        record = kept_score(self.app.paths.data_dir, info.path, conversation_id)
        return describe(record) if record is not None else ""

    # -- on the worker thread ------------------------------------------------------------------
    def _score(self, run: _Run) -> None:
        from gguf_tui.quality.conversation import score_conversation
        from gguf_tui.quality.scorer import Cancelled, QualityError

        app = self.app
        messages = app.store.messages(run.conversation_id)
        outcome: str = ""
        severity: SeverityLevel = "information"
        try:
            result = score_conversation(
                run.model,
                messages,
                run.conversation_id,
                app.paths.data_dir,
                run.cancel,
                lambda p: self._progress(run, p),
                n_threads=app.load_options.n_threads,
            )
            outcome = (
                f"{result.row.quant} against {result.reference.quant}: KLD "
                f"{result.row.kld_mean:.3f}, {result.row.top1_agreement:.1f} % same top token."
            )
        except Cancelled:
            outcome = "Scoring stopped; nothing was kept."
        except QualityError as exc:
            outcome, severity = f"Cannot score this conversation: {exc}.", "warning"
        except Exception as exc:  # a model that fails to load, a full disk: said, not raised
            outcome, severity = f"Scoring failed: {exc}", "error"
        with contextlib.suppress(RuntimeError):  # the app has closed meanwhile
            app.call_from_thread(self._finished, run, outcome, severity)

    def _progress(self, run: _Run, p: Progress) -> None:
        which = "the reference" if p.reference else run.quant
        if p.stage == "loading":
            run.progress = f"loading {which}"
        else:
            run.progress = f"{which} {p.done}/{p.total} chunks"
        with contextlib.suppress(RuntimeError):
            self.app.call_from_thread(self._changed)

    def _finished(self, run: _Run, outcome: str, severity: SeverityLevel) -> None:
        if self._run is run:
            self._run = None
        self.app.notify(outcome, title="Quality", severity=severity, timeout=10)
        self._changed()
