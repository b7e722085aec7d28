"""The Textual application: owns the engine, the store and the settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from gguf_tui.config.settings import ConfigError, LoadedConfig, Paths, Settings, save_config
from gguf_tui.engine import Backend, Engine, LoadOptions, Sampling
from gguf_tui.store.database import Store
from gguf_tui.tui.downloads import DownloadTask
from gguf_tui.tui.keymap import APP_ACTIONS, CHAT_ACTIONS, check_keymap, to_bindings
from gguf_tui.tui.model_control import ModelControl
from gguf_tui.tui.screens.bench import BenchScreen, config_for
from gguf_tui.tui.screens.chat import ChatScreen
from gguf_tui.tui.screens.dialogs import HelpScreen, TextPromptScreen
from gguf_tui.tui.state import AnswerInFlight, LoadState
from gguf_tui.tui.text import literal

# Below this many columns the chat screen folds its sidebar (chat.tcss, `.-narrow`).
NARROW_COLUMNS = 100


class GgufTuiApp(App):
    TITLE = "gguf-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = to_bindings(APP_ACTIONS)
    ENABLE_COMMAND_PALETTE = True
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_COLUMNS, "-wide")]

    # What the screens observe (`self.watch(self.app, ...)`): the load in flight or the
    # last one, and the download in flight or the last one (the same task, republished
    # on each change of its progress).
    load_state: reactive[LoadState] = reactive(LoadState, always_update=True, init=False)
    download: reactive[DownloadTask | None] = reactive(None, always_update=True, init=False)
    narrow: reactive[bool | None] = reactive(None, init=False)  # under NARROW_COLUMNS wide

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
        self.owns_engine = engine is None  # a borrowed engine (tests) stays open
        self.engine = engine or Engine()
        self.load_options = load_options or LoadOptions()
        self.sampling = sampling or Sampling()
        self.system_prompt = system_prompt
        self.answer = AnswerInFlight()  # the answer being written, to stop it from here
        self._initial_conversation = open_conversation
        self.main_screen: ChatScreen | None = None  # pushed in on_mount
        self.extra_model_dirs = extra_model_dirs or []
        # Loading, switching and downloading: what the screens ask for, in one place.
        self.models = ModelControl(self, model_path, self.extra_model_dirs)
        self.theme = self._usable_theme(config.settings.theme)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notice of the app, of every screen and widget (theirs call this one): its
        text may quote a server's error body, a file name or a model id, so it is shown
        `literal` and never read as markup, whatever the caller asked (`markup` is ignored;
        tests/test_display_boundary.py keeps it so)."""
        super().notify(
            literal(message), title=literal(title), severity=severity, timeout=timeout, markup=False
        )

    # -- start and stop ---------------------------------------------------------------------
    @property
    def chat_screen(self) -> ChatScreen:
        """The main screen, typed: the one handle to it, never a search of the stack. It
        is pushed once at start over Textual's default screen and never popped."""
        assert self.main_screen is not None, "the app has not started"
        return self.main_screen

    async def on_mount(self) -> None:
        from gguf_tui.tui.keymap import check_keymap

        keymap, key_problems = check_keymap(self.config.settings.keymap or {})
        if keymap:
            self.set_keymap(keymap)
        self.main_screen = ChatScreen(self._initial_conversation)
        await self.push_screen(self.main_screen)
        for problem in [*self.config.problems, *key_problems]:
            self.notify(problem, title="Settings", severity="warning", timeout=12, markup=False)
        if self.config.settings.theme != self.theme:
            self._report_unknown_theme(self.config.settings.theme)
        self.theme_changed_signal.subscribe(self, self._theme_chosen)
        initial = self.models.initial_model
        if initial is not None:
            self.run_worker(self.models.load(initial), exclusive=True, group="load")
        elif self.engine.info is None:
            self.action_pick_model()  # nothing chosen yet: start by choosing

    def action_pick_model(self, tab: str = "local") -> None:
        from gguf_tui.tui.screens.picker import ModelPicker

        if not any(isinstance(s, ModelPicker) for s in self.screen_stack):
            self.push_screen(ModelPicker(tab))

    async def action_quit(self) -> None:
        """Stop the answer being written (it is saved), then leave."""
        await self.answer.stop()
        self.exit()

    async def on_unmount(self) -> None:
        from gguf_tui.engine.remote.guard import cut_all

        cut_all()  # a server list or answer in flight anywhere: quitting never waits on it
        if self.owns_engine:
            await asyncio.get_running_loop().run_in_executor(None, self.engine.close)
        else:
            self.engine.stop()
        self.store.close()

    def apply_settings(self, settings: Settings) -> None:
        """Save edited settings and use them now; load options apply at the next load."""
        from gguf_tui.config import options as settings_options

        self.config.settings = settings
        try:
            save_config(self.config)
        except (OSError, ConfigError) as exc:
            self.notify(f"Cannot save the settings: {exc}", severity="error")
            return
        self.sampling = settings_options.sampling(settings)
        self.system_prompt = settings.system_prompt
        load = settings_options.load_options(settings)
        later = load != self.load_options
        self.load_options = load
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        else:
            self._report_unknown_theme(settings.theme)
        self.notify(
            "Settings saved."
            + (
                " Context size, GPU layers, threads and chat format apply at the next load."
                if later
                else ""
            )
        )

    # -- theme ----------------------------------------------------------------------------------
    def _usable_theme(self, name: str) -> str:
        return name if name in self.available_themes else "textual-dark"

    def _report_unknown_theme(self, name: str) -> None:
        choices = ", ".join(sorted(self.available_themes))
        self.notify(
            f"config.toml names the theme {name!r}, which does not exist; using "
            f"{self.theme}. The themes: {choices}.",
            title="Settings",
            severity="warning",
            timeout=15,
            markup=False,
        )

    def _theme_chosen(self, theme) -> None:
        """A theme chosen in the command palette is saved in config.toml for next time."""
        settings = self.config.settings
        if theme.name == settings.theme or theme.name not in self.available_themes:
            return
        settings.theme = theme.name
        try:
            save_config(self.config)
        except (OSError, ConfigError) as exc:
            self.notify(
                f"The theme is used now but not saved: {exc}",
                title="Theme",
                severity="warning",
                markup=False,
            )

    # -- layout ---------------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        """Publish which side of the narrow breakpoint the terminal is on (the chat screen
        observes it, also while another screen is over it: only the top one is resized)."""
        self.narrow = event.size.width < NARROW_COLUMNS

    # -- screenshots ----------------------------------------------------------------------------
    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """ctrl+p "Screenshot": an SVG in the data folder (not ~/Downloads, which may not
        exist), and a notice that says where."""
        folder = Path(path) if path else self.paths.data_dir / "screenshots"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            saved = Path(self.save_screenshot(filename, str(folder), time_format))
        except OSError as exc:
            self.notify(
                f"Cannot save a screenshot in {folder}: {exc.strerror or exc}",
                title="Screenshot",
                severity="error",
                markup=False,
            )
            return None
        home = Path.home()
        where = saved.parent
        shown = f"~/{where.relative_to(home)}" if where.is_relative_to(home) else str(where)
        self.notify(f"Saved {saved.name}\nin {shown}", title="Screenshot", markup=False)
        return None

    def sampling_for(self, conversation_id: int | None) -> Sampling:
        """The run's sampling with the conversation's own overrides on top."""
        from gguf_tui.chat.context import sampling_for

        conv = self.store.get_conversation(conversation_id) if conversation_id else None
        return sampling_for(self.sampling, conv.settings if conv else {})

    # -- export ---------------------------------------------------------------------------------
    def export_conversation(self, conversation_id: int, fmt: str, path: Path) -> None:
        from gguf_tui.store.export import export_text, write_export
        from gguf_tui.store.files import FileError

        conv = self.store.get_conversation(conversation_id)
        if conv is None:
            return
        try:
            text = export_text(self.store, conv, fmt)
            write_export(path, text)
        except FileError as exc:  # a FIFO, a device, a folder: said, never written into
            self.notify(str(exc), severity="error")
            return
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Exported to {path}", title="Export")

    def saved(self, action: str, write: Callable[[], object]) -> bool:
        """Run one database write; a full disk or a database another instance holds
        becomes a message, not a crash, and the screen is left as it was."""
        from gguf_tui.store.errors import StoreError

        try:
            write()
        except StoreError as exc:
            self.notify(f"{exc}.", title=f"Could not {action}", severity="error", timeout=12)
            return False
        return True

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
        """The chat screen's table (keymap.py), with each key as remapped, then the rest."""
        yield from super().get_system_commands(screen)
        remapped = check_keymap(self.config.settings.keymap or {})[0]  # a refused one: default
        for action in CHAT_ACTIONS:
            keys = remapped.get(action.id, action.keys)
            yield SystemCommand(
                f"{action.description}: {action.help}",
                f"keys: {keys}",
                lambda a=action.action: self.run_action(f"screen.{a}"),
            )
        yield SystemCommand(
            "Import a chat.py history file", "JSON list of role/content messages", self._ask_import
        )
        yield SystemCommand(
            "Benchmark quantizations",
            "speed and memory of the loaded model's quantizations, side by side",
            self.open_bench,
        )

    def open_bench(self) -> None:
        """The command palette's entry: the loaded model's quantizations, else ask where."""
        info = self.engine.info
        path = info.path if info is not None else None
        config = config_for(self.load_options)
        if path is not None and path.is_file():
            self.push_screen(BenchScreen(around=path, config=config))
            return

        def chosen(value: str | None) -> None:
            if value and value.strip():
                where = Path(value.strip()).expanduser()
                if where.is_dir():
                    self.push_screen(BenchScreen(folder=where, config=config))
                elif where.is_file():
                    self.push_screen(BenchScreen(around=where, config=config))
                else:
                    self.notify(f"No such file or folder: {where}", severity="error")

        self.push_screen(
            TextPromptScreen(
                "No model is loaded: benchmark which folder (every model in it) or file "
                "(its quantizations)?",
                placeholder="~/models/",
            ),
            chosen,
        )

    def _ask_import(self) -> None:
        async def chosen(value: str | None) -> None:
            if value and value.strip():
                cid = self.import_history(value.strip())
                if cid is not None:
                    await self.chat_screen.open_conversation(cid)

        self.push_screen(
            TextPromptScreen("History file to import", placeholder="history.json"), chosen
        )

    def action_help(self) -> None:
        """f1 opens the help, and closes it again (not a second help on top)."""
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpScreen(self.config.settings.keymap))
