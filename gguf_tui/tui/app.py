"""The Textual application."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

from gguf_tui.engine import Engine, EngineError, LoadOptions


class GgufTuiApp(App):
    TITLE = "gguf-tui"
    BINDINGS: ClassVar = [("ctrl+q", "quit", "Quit")]

    def __init__(self, model_path: Path | None = None, load_options: LoadOptions | None = None):
        super().__init__()
        self.model_path = model_path
        self.load_options = load_options or LoadOptions()
        self.engine = Engine()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("No model chosen: start with gguf-tui MODEL.gguf", id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        if self.model_path is not None:
            self.query_one("#status", Static).update(f"Loading {self.model_path.name} …")
            self.load_model()

    @work(thread=True, exclusive=True)
    def load_model(self) -> None:
        started = time.perf_counter()
        try:
            info = self.engine.load(self.model_path, self.load_options).result()
            text = f"Loaded {info.label} in {time.perf_counter() - started:.1f} s"
        except EngineError as exc:
            text = f"Cannot load the model: {exc}"
        self.call_from_thread(self.query_one("#status", Static).update, text)

    async def on_unmount(self) -> None:
        self.engine.close()
