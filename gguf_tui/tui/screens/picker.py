"""The model picker (`ctrl+o`): models on disk, and quantizations from Hugging Face.

Loading happens here, with the elapsed time shown; a model that cannot load says
why and the picker stays open. Downloads belong to the app (tui/downloads.py),
so closing the picker leaves them running.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    Footer,
    Label,
    LoadingIndicator,
    ProgressBar,
    Static,
    TabbedContent,
    TabPane,
)

from gguf_tui.engine import ModelInfo
from gguf_tui.models.catalog import ModelFile
from gguf_tui.tui.downloads import CANCELLED, FAILED, DownloadTask
from gguf_tui.tui.widgets.hub_browser import HubBrowser
from gguf_tui.tui.widgets.local_models import LocalModels
from gguf_tui.tui.widgets.server_models import ServerModels

if TYPE_CHECKING:
    from gguf_tui.tui.app import GgufTuiApp


class ModelPicker(Screen[ModelInfo | None]):
    CSS_PATH = "picker.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close", id="picker.close"),
        Binding("ctrl+l", "tab('local')", "Local", id="picker.local"),
        Binding("ctrl+g", "tab('hub')", "Hugging Face", id="picker.hub"),
        Binding("ctrl+r", "tab('servers')", "Servers", id="picker.servers"),
        Binding("ctrl+x", "cancel_download", "Cancel download", id="picker.cancel"),
    ]

    app: GgufTuiApp

    def __init__(self, tab: str = "local") -> None:
        super().__init__()
        self.initial_tab = tab
        self._loading_since: float | None = None
        self._reported: DownloadTask | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("Choose a model", id="picker-title")
            with TabbedContent(initial=self.initial_tab):
                with TabPane("Local", id="local"):
                    yield LocalModels(id="local-models")
                with TabPane("Hugging Face", id="hub"):
                    yield HubBrowser(n_ctx=self.app.load_options.n_ctx or 4096, id="hub-browser")
                with TabPane("Servers", id="servers"):
                    yield ServerModels(id="server-models")
            with Horizontal(id="picker-progress"):
                yield LoadingIndicator(id="picker-spinner")
                yield Static("", id="picker-status", markup=False)
            with Horizontal(id="download-row"):
                yield ProgressBar(id="download-bar", show_eta=False)
                yield Static("", id="download-label", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#picker-spinner").display = False
        self.set_interval(0.2, self._tick)
        self._tick()
        self.scan()
        self.query_one(ServerModels).show_servers(*self.app.configured_servers())
        focus = "#local-filter" if self.initial_tab == "local" else "#hub-search"
        self.query_one(focus).focus()

    # -- the local scan ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="scan")
    def scan(self) -> None:
        self.app.call_from_thread(self._status, "Looking for models …")
        models = self.app.scan_models()
        self.app.call_from_thread(self._show_models, models)

    def _show_models(self, models: list[ModelFile]) -> None:
        info = self.app.engine.info
        current = os.path.realpath(info.path) if info and not info.server else None
        self.query_one(LocalModels).set_models(models, current)
        usable = sum(m.usable for m in models)
        self._status(
            f"{usable} models on disk"
            + (f", {len(models) - usable} unusable" if usable < len(models) else "")
        )

    # -- choosing -------------------------------------------------------------------------------
    @on(LocalModels.Chosen)
    def _local_chosen(self, event: LocalModels.Chosen) -> None:
        model = event.model
        if model.error or model.incomplete:
            reason = model.error or f"missing {', '.join(model.missing_shards)}"
            self._status(f"Cannot load {model.path.name}: {reason}", error=True)
            return
        self.load(model.path)

    @on(HubBrowser.QuantChosen)
    def _quant_chosen(self, event: HubBrowser.QuantChosen) -> None:
        q = event.quant
        if q.missing_shards:
            self._status(
                f"{q.spec} is missing shards in the repository: cannot download it", error=True
            )
            return
        self.app.start_download(DownloadTask(q.repo_id, q.quant, q.filenames), load=True)
        self._status(f"Downloading {q.spec}; it loads when done (ctrl+x cancels).")

    @on(LocalModels.StarterChosen)
    def _starter_chosen(self, event: LocalModels.StarterChosen) -> None:
        self._status(f"Looking up {event.repo_id} …")
        self.fetch_starter(event.repo_id, event.quant)

    @work(thread=True, exclusive=True, group="hub")
    def fetch_starter(self, repo_id: str, quant: str) -> None:
        from gguf_tui.models.hub import list_quants
        from gguf_tui.models.hub_errors import HubError

        try:
            quants = [q for q in list_quants(repo_id) if q.quant.upper() == quant]
        except HubError as exc:
            self.app.call_from_thread(self._status, str(exc), True)
            return
        if not quants:
            self.app.call_from_thread(self._status, f"{repo_id} has no {quant} file", True)
            return
        q = quants[0]
        self.app.call_from_thread(
            self.app.start_download, DownloadTask(q.repo_id, q.quant, q.filenames), True
        )

    @on(ServerModels.Chosen)
    def _server_chosen(self, event: ServerModels.Chosen) -> None:
        self.load(event.model)

    @work(exclusive=True, group="load")
    async def load(self, what) -> None:
        """Load a local file (a Path) or a server's model (a RemoteModel)."""
        self._loading_since = time.monotonic()
        self.query_one("#picker-spinner").display = True
        if isinstance(what, Path):
            info = await self.app.load_local(what)
        else:
            info = await self.app.use_server_model(what)
        path = what if isinstance(what, Path) else Path(what.id)
        self._loading_since = None
        self.query_one("#picker-spinner").display = False
        if info is None:
            self._status(f"Could not load {path.name}: {self.app.last_load_error}", error=True)
            return
        self.dismiss(info)

    # -- progress --------------------------------------------------------------------------------
    def _tick(self) -> None:
        if self._loading_since is not None:
            self._status(
                f"Loading … {time.monotonic() - self._loading_since:.1f} s "
                f"({self.app.load_progress:.0%})"
            )
        task = self.app.current_download
        row = self.query_one("#download-row")
        row.display = task is not None
        if task is not None:
            bar = self.query_one("#download-bar", ProgressBar)
            bar.update(total=max(task.total_bytes, 1), progress=task.done_bytes)
            self.query_one("#download-label", Static).update(task.describe())
            if not task.active and task is not self._reported:
                self._reported = task  # the outcome replaces "Downloading …" once
                if task.state in (FAILED, CANCELLED):
                    self._status(task.describe(), error=task.state == FAILED)

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#picker-status", Static)
        status.update(text)
        status.set_class(error, "error")

    # -- actions -----------------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)

    def _focus_tab(self, tab: str) -> None:
        focus = {"local": "#local-filter", "hub": "#hub-search", "servers": "#server-table"}
        self.query_one(focus[tab]).focus()

    def action_cancel_download(self) -> None:
        task = self.app.current_download
        if task is not None and task.active:
            task.cancel.set()
            self._status(f"Cancelling the download of {task.label} …")

    def action_close(self) -> None:
        if self._loading_since is None:
            self.dismiss(None)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(event.pane.id or "local")
