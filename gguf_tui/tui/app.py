"""The Textual application: owns the engine, the store and the settings."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.screen import Screen

from gguf_tui.config import LoadedConfig, Paths, save_config
from gguf_tui.engine import Backend, Engine, EngineError, LoadOptions, ModelInfo, Sampling
from gguf_tui.models.catalog import ModelFile
from gguf_tui.store.database import Store
from gguf_tui.tui.downloads import CANCELLED, DONE, FAILED, DownloadTask, run_download
from gguf_tui.tui.keymap import APP_ACTIONS, CHAT_ACTIONS, to_bindings


class GgufTuiApp(App):
    TITLE = "gguf-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar = to_bindings(APP_ACTIONS)
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        *,
        paths: Paths,
        config: LoadedConfig,
        store: Store,
        model_path: Path | None = None,
        load_options: LoadOptions | None = None,
        sampling: Sampling | None = None,
        system_prompt: str = "",
        open_conversation: int | None = None,
        engine: Backend | None = None,  # e.g. a RemoteEngine for --server
        extra_model_dirs: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.config = config
        self.store = store
        self._owns_engine = engine is None  # a borrowed engine (tests) stays open
        self.engine: Backend = engine or Engine()
        self.load_options = load_options or LoadOptions()
        self.sampling = sampling or Sampling()
        self.system_prompt = system_prompt
        self.loading = False
        self._initial_model = model_path
        self._initial_conversation = open_conversation
        self.load_progress = 0.0
        self.last_load_error = ""
        self.extra_model_dirs = extra_model_dirs or []
        self.downloads: list[DownloadTask] = []
        self.theme = (
            config.settings.theme
            if config.settings.theme in self.available_themes
            else "textual-dark"
        )

    # -- start and stop ---------------------------------------------------------------------
    async def on_mount(self) -> None:
        from gguf_tui.tui.screens.chat import ChatScreen

        if self.config.settings.keymap:
            self.set_keymap(self.config.settings.keymap)
        await self.push_screen(ChatScreen())
        for problem in self.config.problems:
            self.notify(problem, title="Settings", severity="warning", timeout=12)
        if self._initial_conversation is not None:
            await self.chat_screen.open_conversation(self._initial_conversation)
        if self._initial_model is not None:
            self.run_worker(self.load_model(self._initial_model), exclusive=True, group="load")
        elif self.engine.info is None:
            self.action_pick_model()  # nothing chosen yet: start by choosing
        self.set_interval(0.5, self._show_download_status)

    @property
    def chat_screen(self):
        from gguf_tui.tui.screens.chat import ChatScreen

        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        raise LookupError("the chat screen is not open")

    async def action_quit(self) -> None:
        """Stop the answer being written (it is saved), then leave."""
        with contextlib.suppress(LookupError):
            await self.chat_screen.finish_reply()
        self.exit()

    async def on_unmount(self) -> None:
        if self._owns_engine:
            await asyncio.get_running_loop().run_in_executor(None, self.engine.close)
        else:
            self.engine.stop()
        self.store.close()

    # -- the model --------------------------------------------------------------------------
    async def load_model(self, path: Path, options: LoadOptions | None = None) -> ModelInfo | None:
        """Load on the engine thread while the UI shows progress; None when it failed."""
        try:
            screen = self.chat_screen
        except LookupError:
            screen = None
        status = screen.status if screen is not None else None
        await (screen.finish_reply() if screen is not None else asyncio.sleep(0))
        self.loading = True
        self.load_progress = 0.0
        started = time.monotonic()

        def progress(fraction: float) -> bool:
            self.load_progress = fraction
            return True

        def tick() -> None:
            if status is not None:
                status.state = (
                    f"loading {path.name} {self.load_progress:.0%} "
                    f"· {time.monotonic() - started:.1f} s"
                )

        timer = self.set_interval(0.1, tick)
        tick()
        try:
            info = await asyncio.wrap_future(
                self.engine.load(path, options or self.load_options, progress)
            )
        except EngineError as exc:
            self.last_load_error = str(exc)
            self.notify(str(exc), title="Cannot load the model", severity="error", timeout=15)
            info = None
        finally:
            timer.stop()
            self.loading = False
        if status is not None:
            status.set_model(info)
            status.state = "idle"
        if info is not None:
            for note in info.notes:
                self.notify(note, title="Model", timeout=10)
            self.notify(f"Loaded {info.label} in {info.load_seconds:.1f} s.", timeout=4)
            if not info.server:  # a server's model id is no file to open next time
                self.remember_model(path)
            if screen is not None:
                screen._count_context()
        return info

    def remember_model(self, path: Path) -> None:
        """The last model used is the default next time."""
        if self.config.broken:
            return
        self.config.settings.default_model = str(path)
        try:
            save_config(self.config)
        except OSError as exc:
            self.notify(f"Cannot save the settings: {exc}", severity="warning")

    def action_pick_model(self, tab: str = "local") -> None:
        from gguf_tui.tui.screens.picker import ModelPicker

        if not any(isinstance(s, ModelPicker) for s in self.screen_stack):
            self.push_screen(ModelPicker(tab))

    def scan_models(self) -> list[ModelFile]:
        """Every model in the model folders and the Hugging Face cache (blocking)."""
        from gguf_tui.models.catalog import default_dirs, scan

        dirs = default_dirs(
            self.paths.models_dir, self.config.settings.model_dirs, self.extra_model_dirs
        )
        return scan(dirs, cache_file=self.paths.scan_cache)

    # -- downloads --------------------------------------------------------------------------------
    @property
    def current_download(self) -> DownloadTask | None:
        return self.downloads[-1] if self.downloads else None

    def start_download(self, task: DownloadTask, load: bool = True) -> None:
        """Download in a thread; the app stays usable, and loads the model when asked."""
        active = self.current_download
        if active is not None and active.active:
            self.notify(
                f"Wait for {active.label} to finish (ctrl+x in the picker cancels it).",
                severity="warning",
            )
            return
        self.downloads.append(task)
        self.run_worker(self._download(task, load), group="download")

    async def _download(self, task: DownloadTask, load: bool) -> None:
        await asyncio.get_running_loop().run_in_executor(None, run_download, task)
        if task.state == DONE and task.path is not None:
            self.notify(task.describe(), title="Download")
            if load:
                info = await self.load_model(task.path)
                if info is not None:
                    from gguf_tui.tui.screens.picker import ModelPicker

                    if isinstance(self.screen, ModelPicker):
                        self.screen.dismiss(info)
        elif task.state == FAILED:
            self.notify(task.error, title="Download failed", severity="error", timeout=15)
        elif task.state == CANCELLED:
            self.notify(f"Download of {task.label} cancelled.", title="Download")

    def _show_download_status(self) -> None:
        task = self.current_download
        try:
            status = self.chat_screen.status
        except LookupError:
            return
        status.detail = task.describe() if task is not None and task.active else ""

    def offer_conversation_model(self, conversation_id: int) -> None:
        conv = self.store.get_conversation(conversation_id)
        info = self.engine.info
        if conv is None or not conv.model_file or (info and info.model_file == conv.model_file):
            return
        self.notify(
            f"This conversation was last answered by {conv.model_file}"
            f"{f' ({conv.quant})' if conv.quant else ''}. Press ctrl+o to load it.",
            timeout=6,
        )

    def sampling_for(self, conversation_id: int | None) -> Sampling:
        """The run's sampling with the conversation's own overrides on top."""
        if conversation_id is None:
            return self.sampling
        conv = self.store.get_conversation(conversation_id)
        overrides = conv.settings if conv else {}
        known = {k: v for k, v in overrides.items() if k in Sampling.__dataclass_fields__}
        return replace(self.sampling, **known) if known else self.sampling

    # -- export ---------------------------------------------------------------------------------
    def export_conversation(self, conversation_id: int, fmt: str, path: Path) -> None:
        from gguf_tui.store.export import export_text

        conv = self.store.get_conversation(conversation_id)
        if conv is None:
            return
        try:
            text = export_text(self.store, conv, fmt)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Exported to {path}", title="Export")

    def import_history(self, path: str | Path) -> int | None:
        from gguf_tui.store.errors import StoreError
        from gguf_tui.store.export import import_history_file
        from gguf_tui.store.history import HistoryError

        path = Path(path).expanduser()
        try:
            conv = import_history_file(self.store, path)
        except (HistoryError, StoreError, OSError) as exc:
            self.notify(str(exc), title="Import failed", severity="error", timeout=10)
            return None
        self.notify(f"Imported {conv.message_count} messages from {path.name}.")
        return conv.id

    # -- command palette --------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen):
        yield from super().get_system_commands(screen)
        for action in CHAT_ACTIONS:
            keys = self.config.settings.keymap.get(action.id, action.keys)
            yield SystemCommand(
                f"{action.description}: {action.help}",
                f"keys: {keys}",
                lambda a=action.action: self.run_action(f"screen.{a}"),
            )
        yield SystemCommand(
            "Import a chat.py history file", "JSON list of role/content messages", self._ask_import
        )
        from gguf_tui.tui.screens.bench import open_bench

        yield SystemCommand(
            "Benchmark quantizations",
            "speed and memory of the loaded model's quantizations, side by side",
            lambda: open_bench(self),
        )

    def _ask_import(self) -> None:
        from gguf_tui.tui.screens.dialogs import TextPromptScreen

        async def chosen(value: str | None) -> None:
            if value and value.strip():
                cid = self.import_history(value.strip())
                if cid is not None:
                    await self.chat_screen.open_conversation(cid)

        self.push_screen(
            TextPromptScreen("History file to import", placeholder="history.json"), chosen
        )

    def action_help(self) -> None:
        from gguf_tui.tui.screens.dialogs import HelpScreen

        self.push_screen(HelpScreen(self.config.settings.keymap))
