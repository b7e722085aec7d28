"""The Local view of the model picker: every GGUF on disk, filtered as you type."""

from __future__ import annotations

import os

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.widgets import DataTable, Input, Static

from gguf_tui.models.catalog import ModelFile
from gguf_tui.models.units import format_bytes
from gguf_tui.tui.text import cell, literal

SORTS = ("name", "size", "quant")
TABLE_MOVES = {
    "up": "cursor_up",
    "down": "cursor_down",
    "pageup": "page_up",
    "pagedown": "page_down",
}

# Small instruct models with chat templates, offered when nothing is on disk yet.
STARTERS: tuple[tuple[str, str, str], ...] = (
    ("bartowski/SmolLM2-360M-Instruct-GGUF", "Q4_K_M", "SmolLM2 360M Instruct: tiny, fast"),
    ("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M", "Qwen2.5 0.5B Instruct: small, multilingual"),
    ("bartowski/Llama-3.2-1B-Instruct-GGUF", "Q4_K_M", "Llama 3.2 1B Instruct: better answers"),
)


def _sort_key(sort: str):
    """Usable models first, then by the chosen column."""
    if sort == "size":
        return lambda m: (not m.usable, m.file_size, m.display_name.lower())
    if sort == "quant":
        return lambda m: (not m.usable, m.bits_per_weight or 99, m.quant, m.display_name.lower())
    return lambda m: (not m.usable, m.display_name.lower(), m.bits_per_weight or 99)


def _status(model: ModelFile) -> Text:
    if model.error:
        return cell("broken", "bad")
    if model.incomplete:
        return cell(f"{len(model.missing_shards)} shard(s) missing", "warn")
    return cell("ready", "ok")


class LocalModels(Vertical):
    """Filter box, table, and a detail line for the highlighted model."""

    BINDINGS = [Binding("ctrl+s", "cycle_sort", "Sort", id="picker.sort")]

    class Chosen(TextualMessage):
        def __init__(self, model: ModelFile) -> None:
            super().__init__()
            self.model = model

    class StarterChosen(TextualMessage):
        def __init__(self, repo_id: str, quant: str) -> None:
            super().__init__()
            self.repo_id = repo_id
            self.quant = quant

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.models: list[ModelFile] = []
        self.shown: list[ModelFile] = []
        self.sort = "name"
        self.current_path: str | None = None
        self._scanned = False

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Type to filter · ↑↓ to move · enter to load", id="local-filter")
        yield DataTable(id="local-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="local-detail", markup=False)

    def _table(self) -> DataTable:
        """The table, with its columns (the scan may finish before this widget's on_mount)."""
        table = self.query_one(DataTable)
        if not table.columns:
            table.add_columns("model", "quant", "bits/w", "size", "context", "template", "status")
        return table

    def set_models(self, models: list[ModelFile], current: str | None = None) -> None:
        self.models = models
        self.current_path = current
        self._scanned = True
        self.call_after_refresh(self.refresh_table)  # the table sizes its columns once laid out

    @property
    def filter_text(self) -> str:
        return self.query_one("#local-filter", Input).value.strip().lower()

    def refresh_table(self) -> None:
        words = self.filter_text.split()
        self.shown = sorted(
            (m for m in self.models if all(w in _haystack(m) for w in words)),
            key=_sort_key(self.sort),
        )
        table = self._table()
        table.clear()
        if not self.models:
            for repo, quant, about in STARTERS:
                table.add_row(about, quant, "", "", "", "", f"download from {repo}", key=repo)
            self.query_one("#local-detail", Static).update(
                "No models on disk yet. Enter downloads the highlighted starter model "
                "(or search the Hugging Face tab)."
            )
            return
        for model in self.shown:
            mark = "● " if os.path.realpath(model.path) == self.current_path else ""
            table.add_row(
                mark + literal(model.display_name),
                model.quant,
                f"{model.bits_per_weight:.2f}" if model.bits_per_weight else "",
                format_bytes(model.file_size),
                f"{model.context_length:,}" if model.context_length else "",
                "yes" if model.has_chat_template else "no",
                _status(model),
                key=str(model.path),
            )
        self._show_detail(0)

    def _show_detail(self, row: int) -> None:
        detail = self.query_one("#local-detail", Static)
        if not self.shown or not 0 <= row < len(self.shown):
            detail.update(
                f"Nothing matches; {len(self.models)} models on disk. "
                f"Sorted by {self.sort} (ctrl+s)."
            )
            return
        m = self.shown[row]
        if not m.usable:
            detail.update(
                f"Cannot be loaded: {m.error or 'missing ' + ', '.join(m.missing_shards)}"
            )
            return
        where = f"{m.repo_id} (Hugging Face cache)" if m.repo_id else str(m.path.parent)
        shards = f" · {m.n_shards} shards" if m.n_shards > 1 else ""
        detail.update(
            f"{m.path.name}{shards} · {m.size_label} params · {m.architecture or '?'} "
            f"· {where} · sorted by {self.sort} (ctrl+s)"
        )

    # -- keys ---------------------------------------------------------------------------------
    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.refresh_table()

    @on(Input.Changed, "#local-filter")
    def _filter(self) -> None:
        if self._scanned:
            self.refresh_table()

    def on_key(self, event) -> None:
        """Arrow keys in the filter box move the table, so typing and picking flow."""
        if event.key in TABLE_MOVES and self.query_one(Input).has_focus:
            event.stop()
            getattr(self.query_one(DataTable), f"action_{TABLE_MOVES[event.key]}")()

    @on(Input.Submitted, "#local-filter")
    def _submit_from_filter(self) -> None:
        self._choose(self.query_one(DataTable).cursor_row)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._choose(event.cursor_row)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.models:
            self._show_detail(event.cursor_row)

    def _choose(self, row: int) -> None:
        if not self.models:
            if 0 <= row < len(STARTERS):
                repo, quant, _ = STARTERS[row]
                self.post_message(self.StarterChosen(repo, quant))
            return
        if 0 <= row < len(self.shown):
            self.post_message(self.Chosen(self.shown[row]))


def _haystack(model: ModelFile) -> str:
    return " ".join(
        str(p)
        for p in (
            model.display_name,
            model.quant,
            model.repo_id,
            model.path.name,
            model.architecture,
        )
        if p
    ).lower()
