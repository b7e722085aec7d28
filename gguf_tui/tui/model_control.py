"""Which model the app uses: loading with progress, downloads, switching backends.

An object the app owns (`app.models`), not a part of the app: it is the one place
a model is loaded, so every load stops the answer being written, publishes its
progress as `app.load_state` (the status line, the picker and the chat screen
observe it), can be cancelled with escape (the engine then puts the previous model
back), and downloads publish `app.download` the same way. It never touches a
screen or a widget; screens call it and watch what the app publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gguf_tui.config.settings import save_state
from gguf_tui.engine import Backend, Engine, EngineError, LoadCancelled, LoadOptions, ModelInfo
from gguf_tui.models.catalog import Catalog
from gguf_tui.tui.downloads import CANCELLED, DONE, DownloadTask, run_download
from gguf_tui.tui.downloads import FAILED as DOWNLOAD_FAILED
from gguf_tui.tui.state import FAILED, LOADING, READY, LoadState

if TYPE_CHECKING:
    from gguf_tui.engine.remote.endpoint import Endpoint
    from gguf_tui.engine.remote.models import RemoteModel
    from gguf_tui.tui.app import GgufTuiApp
    from gguf_tui.tui.screens.quant_switcher import QuantChoice


class ModelControl:
    """Loads, downloads and switches models for `app`, publishing state on it."""

    def __init__(
        self, app: GgufTuiApp, initial_model: Path | None, extra_model_dirs: list[str]
    ) -> None:
        self.app = app
        self.initial_model = initial_model  # the model given on the command line
        self.extra_model_dirs = extra_model_dirs
        self.downloads: list[DownloadTask] = []
        self._cancel_load: threading.Event | None = None
        self._pending_load: Future[ModelInfo] | None = None

    # -- loading ----------------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        return self.app.load_state.loading

    @property
    def last_load_error(self) -> str:
        """Why the last load failed or was cancelled ("" when it did not)."""
        state = self.app.load_state
        return state.message if state.phase == FAILED else ""

    async def load(self, path: Path, options: LoadOptions | None = None) -> ModelInfo | None:
        """Load on the engine thread while `app.load_state` says how far it got; None when
        it failed (the previous model, if any, is then still loaded)."""
        app = self.app
        await app.answer.stop()
        cancel = self._cancel_load = threading.Event()
        state = LoadState(LOADING, path.name, started=time.monotonic(), server=self.is_remote)
        app.load_state = state
        loop = asyncio.get_running_loop()
        shown = [-1]  # the last percentage published: llama.cpp calls back far more often

        def progress(fraction: float) -> bool:  # on the engine thread
            percent = int(fraction * 100)
            if percent != shown[0]:
                shown[0] = percent
                with contextlib.suppress(RuntimeError):  # the app has closed
                    loop.call_soon_threadsafe(self._load_progress, state, fraction)
            return not cancel.is_set()

        self._pending_load = future = app.engine.load(path, options or app.load_options, progress)
        failed = "loading was stopped"  # the worker awaiting the load was cancelled
        info = None
        try:
            info = await asyncio.wrap_future(future)
        except LoadCancelled:
            failed = "loading was cancelled"
            kept = self.app.engine.info
            self.app.notify(
                f"Cancelled; still using {kept.label}." if kept else "Cancelled.", title="Model"
            )
        except EngineError as exc:
            failed = str(exc)
            self.app.notify(str(exc), title="Cannot load the model", severity="error", timeout=15)
        finally:  # also when the worker that awaited the load is cancelled
            self._cancel_load = None
            if info is None:
                self.app.load_state = replace(state, phase=FAILED, message=failed)
        if info is not None:
            for note in info.notes:
                self.app.notify(note, title="Model", timeout=10)
            self.app.notify(f"Loaded {info.label} in {info.load_seconds:.1f} s.", timeout=4)
            if not info.is_remote:  # a server's model id is no file to open next time
                self.remember(path)
            self.app.load_state = replace(state, phase=READY, fraction=1.0)
        return info

    async def use_conversation_settings(self, overrides: Mapping[str, Any]) -> None:
        """A conversation with its own load settings (f4: n_ctx, KV-cache types, flash
        attention) gets the model in use reloaded with them, by chat/context.py's rule.
        A server's model is left alone: the server decides how it is loaded."""
        from gguf_tui.chat.context import (
            conversation_load_options,
            describe_load_settings,
            own_load_settings,
        )

        info = self.app.engine.info
        if info is None or info.path is None:
            return
        options = conversation_load_options(overrides, self.app.load_options, info)
        if options is None:
            return
        what = describe_load_settings(options, own_load_settings(overrides))
        self.app.notify(f"This conversation uses {what}: reloading.")
        await self.load(info.path, options)

    def _load_progress(self, load: LoadState, fraction: float) -> None:
        """On the UI thread: the fraction of the load in flight (not of a later one)."""
        state = self.app.load_state
        if state.started == load.started and state.loading:
            self.app.load_state = replace(state, fraction=fraction)

    # -- backends --------------------------------------------------------------------------------
    @property
    def is_remote(self) -> bool:
        from gguf_tui.engine.remote.engine import RemoteEngine

        return isinstance(self.app.engine, RemoteEngine)

    async def replace_engine(self, engine: Backend) -> None:
        """Change backend (this machine <-> a server); the old one is closed."""
        app = self.app
        old, owned = app.engine, app.owns_engine
        app.engine, app.owns_engine = engine, True
        if owned:
            await asyncio.get_running_loop().run_in_executor(None, old.close)
        else:
            old.stop()

    async def use_server_model(self, model: RemoteModel) -> ModelInfo | None:
        """Chat with a model of an OpenAI-compatible server from now on."""
        from gguf_tui.engine.remote.engine import RemoteEngine

        await self.app.answer.stop()
        current = self.app.engine
        if not (isinstance(current, RemoteEngine) and current.endpoint == model.endpoint):
            await self.replace_engine(RemoteEngine(model.endpoint))
        return await self.load(Path(model.id))

    def configured_servers(self) -> tuple[dict[str, Endpoint], list[str]]:
        """`[servers.NAME]` from config.toml, plus the server in use if it is not there."""
        from gguf_tui.config.servers import read_servers
        from gguf_tui.engine.remote.engine import RemoteEngine

        table = read_servers(self.app.config.raw)
        servers = dict(table.servers)
        if (
            isinstance(self.app.engine, RemoteEngine)
            and self.app.engine.endpoint not in servers.values()
        ):
            servers[self.app.engine.endpoint.host] = self.app.engine.endpoint
        return servers, table.problems

    async def load_local(self, path: Path, options: LoadOptions | None = None) -> ModelInfo | None:
        """Load a GGUF file on this machine (leaving a server if one was in use)."""
        if self.is_remote:
            await self.app.answer.stop()
            await self.replace_engine(Engine())
        return await self.load(path, options)

    async def settled(self) -> ModelInfo | None:
        """Wait until no load is in flight, even one whose screen has gone (its worker
        cancelled while the engine thread still loads); the model in use then."""
        future = self._pending_load
        if future is not None and not future.done():
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(future)
        return self.app.engine.info

    def cancel_load(self) -> bool:
        """Escape while a model loads: stop, and keep the previous model."""
        if self._cancel_load is None:
            return False
        self._cancel_load.set()
        return True

    def remember(self, path: Path) -> None:
        """The last model used opens next time (kept in state.json, not config.toml)."""
        save_state(self.app.paths, last_model=str(path))

    # -- choosing ------------------------------------------------------------------------------
    def scan(self, cancelled: Callable[[], bool] | None = None) -> Catalog:
        """Every model in the configured places (`catalog.scan_configured`), the folder of
        the model in use among them (launched by path, its siblings are there) (blocking).
        `cancelled` (a thread worker's) ends a long scan early, so quitting never waits."""
        from gguf_tui.models.catalog import scan_configured

        app = self.app
        return scan_configured(
            app.paths.models_dir,
            app.config.settings.model_dirs,
            self.extra_model_dirs,
            beside=[p.parent for p in (self.initial_model, self.local_model_path) if p],
            cache_file=app.paths.scan_cache,
            cancelled=cancelled,
        )

    def model_folders(self) -> list[Path]:
        """The folders searched with their subfolders (a typed folder already among them
        is not added again)."""
        from gguf_tui.models.catalog import default_dirs

        settings = self.app.config.settings
        return default_dirs(self.app.paths.models_dir, settings.model_dirs, self.extra_model_dirs)

    @property
    def local_model_path(self) -> Path | None:
        """The file of the model in use, when it is one on this machine."""
        info = self.app.engine.info
        return None if info is None else info.path

    def find_model_file(self, file_name: str) -> Path | None:
        """A model on disk with this file name (what messages record), if there is one."""
        for model in self.scan().models:
            if model.path.name == file_name and model.usable:
                return model.path
        return None

    def offer_conversation_model(self, conversation_id: int) -> None:
        conv = self.app.store.get_conversation(conversation_id)
        info = self.app.engine.info
        # At start the model given on the command line may still be loading.
        starting = self.initial_model.name if self.initial_model else None
        current = info.model_file if info else starting
        if conv is None or not conv.model_file or current == conv.model_file:
            return
        self.app.notify(
            f"This conversation was last answered by {conv.model_file}"
            f"{f' ({conv.quant})' if conv.quant else ''}. Press ctrl+l to load it.",
            timeout=8,
        )

    async def load_conversation_model(self, conversation_id: int) -> None:
        conv = self.app.store.get_conversation(conversation_id)
        if conv is None or not conv.model_file:
            return
        path = await asyncio.get_running_loop().run_in_executor(
            None, self.find_model_file, conv.model_file
        )
        if path is None:
            self.app.notify(
                f"{conv.model_file} is not in your model folders any more.", severity="warning"
            )
            return
        await self.load_local(path)

    def switch_to(self, choice: QuantChoice, overrides: Mapping[str, Any] | None = None) -> None:
        """Switch quantization, downloading it first when it is not on disk yet. The open
        conversation's own load settings (`overrides`, f4) hold for the new file too, so
        its next message needs no second load."""
        if choice.path is not None:
            from gguf_tui.chat.context import conversation_options

            options = conversation_options(overrides or {}, self.app.load_options)
            self.app.run_worker(self.load_local(choice.path, options), exclusive=True, group="load")
        elif choice.remote is not None:
            q = choice.remote
            self.start_download(DownloadTask(q.repo_id, q.quant, q.filenames), load=True)
            self.app.notify(f"Downloading {q.spec}; the switch happens when it is done.")

    # -- downloads --------------------------------------------------------------------------------
    @property
    def current_download(self) -> DownloadTask | None:
        return self.downloads[-1] if self.downloads else None

    def start_download(self, task: DownloadTask, load: bool = True) -> None:
        """Download in a thread; the app stays usable, and loads the model when asked."""
        active = self.current_download
        if active is not None and active.active:
            self.app.notify(
                f"Wait for {active.label} to finish (ctrl+x in the picker cancels it).",
                severity="warning",
            )
            return
        self.downloads.append(task)
        loop = asyncio.get_running_loop()

        def changed() -> None:  # on the download thread, at most ten times a second
            with contextlib.suppress(RuntimeError):  # the app has closed
                loop.call_soon_threadsafe(self._publish_download, task)

        task.listener = changed
        self.app.download = task
        self.app.run_worker(self._download(task, load), group="download")

    def _publish_download(self, task: DownloadTask) -> None:
        if task is self.current_download:
            self.app.download = task

    async def _download(self, task: DownloadTask, load: bool) -> None:
        await asyncio.get_running_loop().run_in_executor(None, run_download, task)
        self._publish_download(task)
        if task.state == DONE and task.path is not None:
            self.app.notify(task.describe(), title="Download")
            if load:  # an open picker closes itself once this load is ready
                await self.load_local(task.path)
        elif task.state == DOWNLOAD_FAILED:
            self.app.notify(task.error, title="Download failed", severity="error", timeout=15)
        elif task.state == CANCELLED:
            self.app.notify(f"Download of {task.label} cancelled.", title="Download")
