"""The model picker (`ctrl+o`): models on disk, and quantizations from Hugging Face.

Loading happens here, with the elapsed time shown; a model that cannot load says
why and the picker stays open. Downloads belong to the app (tui/downloads.py),
so closing the picker leaves them running. A path typed into the Local filter opens
that file, or adds that folder to `model_dirs` in config.toml.

The line under the tabs says how the last thing done in each tab went; a tab shows
its own message only, so a Hub error from the Local tab is not shown under Servers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    Footer,
    Input,
    Label,
    LoadingIndicator,
    ProgressBar,
    Static,
    TabbedContent,
    TabPane,
)
from textual.worker import get_current_worker

from gguf_tui.config.settings import ConfigError, save_config
from gguf_tui.engine import ModelInfo
from gguf_tui.models.catalog import Catalog, ModelFile
from gguf_tui.tui import keymap
from gguf_tui.tui.downloads import CANCELLED, DONE, FAILED, DownloadTask
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.state import READY, LoadState
from gguf_tui.tui.text import literal
from gguf_tui.tui.widgets.hub_browser import HubBrowser
from gguf_tui.tui.widgets.local_models import LocalModels, short_path
from gguf_tui.tui.widgets.server_models import ServerModels

if TYPE_CHECKING:
    from gguf_tui.quality.results import QualityRecord
    from gguf_tui.tui.app import GgufTuiApp

CLOCK_SECONDS = 0.2  # how often a load's elapsed time is redrawn


class ModelPicker(Screen[ModelInfo | None]):
    CSS_PATH = "picker.tcss"
    BINDINGS = to_bindings(keymap.PICKER_ACTIONS)

    app: GgufTuiApp

    def __init__(self, tab: str = "local") -> None:
        super().__init__()
        self.initial_tab = tab
        self._loading_since: float | None = None
        self._loading_name = ""
        self._loading_server = False
        self._reported: DownloadTask | None = None
        self._download_tab: dict[int, str] = {}  # id(task) -> the tab that started it
        self._messages: dict[str, tuple[str, bool]] = {}  # tab -> (text, is an error)
        self._could_cancel = False

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("Choose a model", id="picker-title", markup=False)
            with TabbedContent(initial=self.initial_tab):
                with TabPane("Local", id="local"):
                    yield LocalModels(id="local-models")
                with TabPane("Hugging Face", id="hub"):
                    options = self.app.load_options
                    yield HubBrowser(
                        n_ctx=options.n_ctx or 4096, kv_types=options.kv_types, id="hub-browser"
                    )
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
        # What the app publishes: the load's progress and the download's (each change of
        # the download, republished from its thread by the app).
        self.watch(self.app, "load_state", self._load_changed, init=False)
        self.watch(self.app, "download", self._show_download, init=False)
        self._show_download()
        self.scan()
        self.query_one(ServerModels).show_servers(*self.app.models.configured_servers())
        focus = "#local-filter" if self.initial_tab == "local" else "#hub-search"
        self.query_one(focus).focus()

    # -- the local scan ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="scan")
    def scan(self, note: str = "") -> None:
        """List the models on disk; `note` says what led to this scan (a folder added)."""
        self.app.call_from_thread(self._status, note or "Looking for models …", False, "local")
        worker = get_current_worker()
        found = self.app.models.scan(cancelled=lambda: worker.is_cancelled)
        if worker.is_cancelled:
            return
        measured = self._measured(found.models)
        self.app.call_from_thread(self._show_models, found, measured, note)

    def _measured(self, models: list[ModelFile]) -> dict[str, QualityRecord]:
        """What `gguf-tui quality` measured for each of these very files, by path (read
        on the scan's thread: quality.json is a file, and each model is a `stat`)."""
        from gguf_tui.quality import results

        data_dir = self.app.paths.data_dir
        records = results.load(data_dir)
        if not records:
            return {}
        found = {str(m.path): results.lookup(data_dir, m.path, records) for m in models}
        return {path: record for path, record in found.items() if record is not None}

    @property
    def _gone(self) -> bool:
        """Dismissed (a load chose a model) while a scan or lookup thread still ran."""
        return not self.is_attached or self not in self.app.screen_stack

    def _show_models(
        self, catalog: Catalog, measured: dict[str, QualityRecord], note: str = ""
    ) -> None:
        if self._gone:
            return
        info = self.app.engine.info
        current = os.path.realpath(info.path) if info and info.path else None
        models = catalog.models
        self.query_one(LocalModels).set_models(models, current, catalog.places, measured)
        usable = sum(m.usable for m in models)
        found = f"{usable} model{'' if usable == 1 else 's'} on disk" + (
            f", {len(models) - usable} unusable" if usable < len(models) else ""
        )
        self._status(f"{note} · {found}" if note else found, False, "local")

    # -- a path typed into the Local filter ------------------------------------------------------
    @on(LocalModels.PathEntered)
    def _path_entered(self, event: LocalModels.PathEntered) -> None:
        path = event.path
        shown = literal(short_path(path))
        if path.is_dir():
            self.query_one("#local-filter", Input).value = ""
            self.add_model_folder(path)
        elif path.is_file():
            self.load(path)
        else:
            self._status(f"Nothing at {shown}: type a .gguf file or a folder.", True, "local")

    def add_model_folder(self, folder: Path) -> None:
        """Search `folder` for models from now on: it goes into `model_dirs` in config.toml
        (this session only, and said so, when config.toml cannot be written)."""
        app = self.app
        real = os.path.realpath(folder)
        shown = literal(short_path(real))
        if any(os.path.realpath(d) == real for d in app.models.model_folders()):
            self.scan(f"{shown} is already a model folder")
            return
        settings = app.config.settings
        before = list(settings.model_dirs)
        settings.model_dirs = [*before, short_path(real)]
        try:
            save_config(app.config)
        except (OSError, ConfigError) as exc:
            settings.model_dirs = before
            app.extra_model_dirs.append(real)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.scan(f"Searching {shown} until you quit (cannot save config.toml: {reason})")
            return
        self.scan(f"Added {shown} to model_dirs in config.toml")

    # -- choosing -------------------------------------------------------------------------------
    @on(LocalModels.Chosen)
    def _local_chosen(self, event: LocalModels.Chosen) -> None:
        model = event.model
        if model.error or model.incomplete:
            reason = model.error or f"missing {', '.join(model.missing_shards)}"
            self._status(f"Cannot load {model.path.name}: {reason}", True, "local")
            return
        self.load(model.path)

    @on(HubBrowser.QuantChosen)
    def _quant_chosen(self, event: HubBrowser.QuantChosen) -> None:
        q = event.quant
        if q.missing_shards:
            self._status(
                f"{q.spec} is missing shards in the repository: cannot download it", True, "hub"
            )
            return
        self._start_download(DownloadTask(q.repo_id, q.quant, q.filenames), "hub")

    @on(LocalModels.StarterChosen)
    def _starter_chosen(self, event: LocalModels.StarterChosen) -> None:
        self._status(f"Looking up {event.repo_id} …", False, "local")
        self.fetch_starter(event.repo_id, event.quant)

    @work(thread=True, exclusive=True, group="hub")
    def fetch_starter(self, repo_id: str, quant: str) -> None:
        from gguf_tui.models.hub.errors import HubError
        from gguf_tui.models.hub.listing import list_quants

        try:
            quants = [q for q in list_quants(repo_id) if q.quant.upper() == quant]
        except HubError as exc:
            self.app.call_from_thread(self._status, str(exc), True, "local")
            return
        if not quants:
            self.app.call_from_thread(self._status, f"{repo_id} has no {quant} file", True, "local")
            return
        q = quants[0]
        self.app.call_from_thread(
            self._start_download, DownloadTask(q.repo_id, q.quant, q.filenames), "local"
        )

    def _start_download(self, task: DownloadTask, tab: str) -> None:
        before = self.app.models.current_download
        self.app.models.start_download(task, load=True)
        if self.app.models.current_download is task and task is not before:
            self._download_tab[id(task)] = tab
            self._status(
                f"Downloading {task.label}; it loads when done (ctrl+x cancels).", False, tab
            )
        self._show_download()

    @on(ServerModels.Chosen)
    def _server_chosen(self, event: ServerModels.Chosen) -> None:
        self.load(event.model)

    @work(exclusive=True, group="load")
    async def load(self, what) -> None:
        """Load a local file (a Path) or a server's model (a RemoteModel)."""
        tab = "local" if isinstance(what, Path) else "servers"
        path = what if isinstance(what, Path) else Path(what.id)
        self._loading_since = time.monotonic()
        self._loading_name = literal(path.name)
        self._loading_server = not isinstance(what, Path)
        self.query_one("#picker-spinner").display = True
        # The elapsed time is what moves during most of a load (see _loading_text): a
        # clock for the display; the load's own progress comes from app.load_state.
        clock = self.set_interval(CLOCK_SECONDS, self._show_status)
        self._show_status()
        try:
            if isinstance(what, Path):
                info = await self.app.models.load_local(what)
            else:
                info = await self.app.models.use_server_model(what)
        finally:
            clock.stop()
            self._loading_since = None
            self.query_one("#picker-spinner").display = False
        if info is None:
            self._status(
                f"Could not load {path.name}: {self.app.models.last_load_error}", True, tab
            )
            return
        self.dismiss(info)

    def _load_changed(self, load: LoadState) -> None:
        """A downloaded model loaded (the app loads it when its download ends): the
        picker, if it is the screen in front, has done its job."""
        self._show_status()
        task = self.app.models.current_download
        path = task.path if task is not None and task.state == DONE else None
        if (
            load.phase == READY
            and path is not None
            and path.name == load.name
            and self._loading_since is None
            and self.app.screen is self
        ):
            self.dismiss(self.app.engine.info)

    # -- progress --------------------------------------------------------------------------------
    def _show_download(self, *_: object) -> None:
        task = self.app.models.current_download
        row = self.query_one("#download-row")
        row.display = task is not None
        if task is not None:
            bar = self.query_one("#download-bar", ProgressBar)
            bar.update(total=max(task.total_bytes, 1), progress=task.done_bytes)
            self.query_one("#download-label", Static).update(literal(task.describe()))
            if not task.active and task is not self._reported:
                self._reported = task  # the outcome replaces "Downloading …" once
                if task.state in (FAILED, CANCELLED):
                    tab = self._download_tab.get(id(task), self._active_tab)
                    self._status(task.describe(), task.state == FAILED, tab)
        can_cancel = task is not None and task.active
        if can_cancel != self._could_cancel:
            self._could_cancel = can_cancel
            self.refresh_bindings()  # ctrl+x is offered only while there is a download

    def _loading_text(self) -> str:
        """What the load is doing. llama.cpp reports progress for the tensor data only,
        and with a mapped file all of it comes in the last moment: most of a load is
        reading the header and vocabulary (0 %), and creating the context after (100 %).
        So the time is what moves, with the phase; a percentage only while it moves."""
        assert self._loading_since is not None
        elapsed = time.monotonic() - self._loading_since
        load = self.app.load_state
        fraction = load.fraction if load.loading else 0.0
        if not load.loading:
            phase = "stopping the answer being written"
        elif self._loading_server:
            phase = "asking the server"
        elif fraction <= 0.0:
            phase = "reading the header and vocabulary"
        elif fraction < 1.0:
            phase = f"weights {fraction:.0%}"
        else:
            phase = "setting up the context"
        return f"Loading {self._loading_name} · {elapsed:.1f} s · {phase} (escape cancels)"

    @property
    def _active_tab(self) -> str:
        return self.query_one(TabbedContent).active or "local"

    def _status(self, text: str, error: bool = False, tab: str | None = None) -> None:
        """Say `text` in `tab` (the tab shown when None): shown while that tab is."""
        if self._gone:
            return
        self._messages[tab or self._active_tab] = (text, error)
        self._show_status()

    def _show_status(self, *_: object) -> None:
        if self._loading_since is not None:
            text, error = self._loading_text(), False
        else:
            text, error = self._messages.get(self._active_tab, ("", False))
        status = self.query_one("#picker-status", Static)
        status.update(literal(text))
        status.set_class(error, "error")

    # -- actions -----------------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)
        self._show_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_download":
            task = self.app.models.current_download
            return task is not None and task.active
        return True

    def _focus_tab(self, tab: str) -> None:
        focus = {"local": "#local-filter", "hub": "#hub-search", "servers": "#server-table"}
        self.query_one(focus[tab]).focus()

    def action_cancel_download(self) -> None:
        task = self.app.models.current_download
        if task is not None and task.active:
            task.cancel.set()
            self._status(f"Cancelling the download of {task.label} …")

    def action_close(self) -> None:
        if self._loading_since is None:
            self.dismiss(None)
        elif self.app.models.cancel_load():
            self._status("Cancelling the load …", False, self._active_tab)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(event.pane.id or "local")
        self._show_status()
