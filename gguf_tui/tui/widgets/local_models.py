"""The Local view of the model picker: every GGUF on disk, filtered as you type.

The filter box also opens what is typed or pasted into it when that is a path: a
.gguf file loads, a folder becomes a model folder. With nothing on disk yet it says
where models are looked for and offers a few small starter models to download.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.message import Message as TextualMessage
from textual.widgets import Static

from gguf_tui.models.catalog import BESIDE, ModelFile, Place
from gguf_tui.models.quant import quality_hint
from gguf_tui.models.units import format_bytes
from gguf_tui.quality.results import QualityRecord, label
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import cell, literal
from gguf_tui.tui.widgets.filter_table import Column, FilterTable, RowTable

SORTS = ("name", "size", "quant")
FILTER_HINT = "Type to filter, or paste a .gguf file or folder · ↑↓ move · enter loads"


class Starter:
    """A small instruct model with a chat template, offered when nothing is on disk yet."""

    def __init__(self, repo_id: str, quant: str, name: str, about: str) -> None:
        self.repo_id, self.quant, self.name, self.about = repo_id, quant, name, about

    @property
    def haystack(self) -> str:
        return f"{self.repo_id} {self.quant} {self.name} {self.about}".lower()


STARTERS: tuple[Starter, ...] = (
    Starter(
        "bartowski/SmolLM2-360M-Instruct-GGUF", "Q4_K_M", "SmolLM2 360M Instruct", "tiny, fast"
    ),
    Starter("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "Q4_K_M", "Qwen2.5 0.5B Instruct", "multilingual"),
    Starter(
        "bartowski/Llama-3.2-1B-Instruct-GGUF", "Q4_K_M", "Llama 3.2 1B Instruct", "better answers"
    ),
)

_EXPLICIT_PATH = re.compile(r"^(/|~|\.{1,2}/|\$|file://|[A-Za-z]:[\\/])")


def typed_path(text: str) -> Path | None:
    """The path in the filter box, when what was typed or pasted is one.

    `/…`, `~/…`, `./…`, `$VAR/…`, `file://…` are paths even when nothing is there (so
    the picker can say so); other text is a path only when it names something that
    exists and looks like one (a `/` in it, or `.gguf` at the end): `q4_k_m` and an
    `owner/repo` filter stay filters. Quotes and backslash-escaped spaces, as terminals
    paste a dropped file, are undone.
    """
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    if not text:
        return None
    if text.startswith("file://"):
        text = unquote(text[len("file://") :])
    if "\\ " in text and not Path(text).expanduser().exists():
        text = re.sub(r"\\(.)", r"\1", text)
    path = Path(os.path.expandvars(text)).expanduser()
    if _EXPLICIT_PATH.match(text):
        return path
    if ("/" in text or text.lower().endswith(".gguf")) and path.exists():
        return path
    return None


def short_path(path: Path | str) -> str:
    """A path with the home folder written as ~ (shorter on a narrow terminal)."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text


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


def _row_key(row: ModelFile | Starter) -> str:
    return row.repo_id if isinstance(row, Starter) else str(row.path)


STARTER_COLUMNS: tuple[Column[Starter], ...] = (
    Column("starter model (downloads)", lambda s: cell(s.name)),
    Column("quant", lambda s: cell(s.quant)),
    Column("about", lambda s: cell(s.about)),
)


class LocalModels(FilterTable):
    """Filter box, table, and a detail line for the highlighted model."""

    BINDINGS = to_bindings(keymap.LOCAL_MODELS_ACTIONS)

    class Chosen(TextualMessage):
        def __init__(self, model: ModelFile) -> None:
            super().__init__()
            self.model = model

    class StarterChosen(TextualMessage):
        def __init__(self, repo_id: str, quant: str) -> None:
            super().__init__()
            self.repo_id = repo_id
            self.quant = quant

    class PathEntered(TextualMessage):
        """A path typed or pasted into the filter box, and enter."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, **kwargs) -> None:
        super().__init__(
            placeholder=FILTER_HINT,
            filter_id="local-filter",
            table_id="local-table",
            key=_row_key,
            haystack=_haystack,
            **kwargs,
        )
        # What decides a choice first, so an 80-column terminal shows it without scrolling.
        self.columns = (
            Column("model", self._name_cell),
            Column("quant", lambda m: cell(m.quant)),
            Column("size", lambda m: cell(format_bytes(m.file_size))),
            Column("status", _status),
            Column("quality", self._quality_cell),
            Column(
                "bits/w", lambda m: cell(f"{m.bits_per_weight:.2f}" if m.bits_per_weight else "")
            ),
            Column("context", lambda m: cell(f"{m.context_length:,}" if m.context_length else "")),
            Column("template", lambda m: "yes" if m.has_chat_template else "no"),
        )
        self.sort = "name"
        self.sort_key = _sort_key(self.sort)
        self.current_path: str | None = None
        self.places: list[Place] = []  # where models are looked for, each with why
        self.measured: dict[str, QualityRecord] = {}  # `gguf-tui quality`'s, by path
        self._scanned = False
        self._enter_pending = False  # enter pressed before the first scan finished

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="local-detail", markup=False)

    def _name_cell(self, model: ModelFile) -> Text:
        mark = "● " if os.path.realpath(model.path) == self.current_path else ""
        return cell(mark + model.display_name)

    def _quality_cell(self, model: ModelFile) -> Text:
        """Measured where this very file was scored (`gguf-tui quality`), else the usual
        guidance for its quantization, dimmed: a guess, not a figure."""
        found = self.measured.get(str(model.path))
        if found is not None:
            return cell(f"KLD {found.kld_mean:.3f} · {found.top1_agreement:.1f} %")
        return cell(quality_hint(model.quant), "dim")

    @property
    def models(self) -> list[ModelFile]:
        return self.rows

    @property
    def shown(self) -> list[ModelFile]:
        """The models listed (none while the starters or a typed path are shown)."""
        return self.table.shown if self.rows and self.typed_path is None else []

    @property
    def starters(self) -> list[Starter]:
        return [] if self.rows or self.typed_path is not None else self.table.shown

    def set_models(
        self,
        models: list[ModelFile],
        current: str | None = None,
        places: list[Place] | None = None,
        measured: dict[str, QualityRecord] | None = None,
    ) -> None:
        self.rows = models
        self.measured = measured or {}
        self.current_path = current
        if places is not None:
            self.places = places
        self._scanned = True
        self.call_after_refresh(self._after_scan)  # the table sizes its columns once laid out

    def _after_scan(self) -> None:
        self.refresh_table()
        if self._enter_pending:
            self._enter_pending = False
            if self.shown:  # never start a starter download nobody saw
                self.table.choose()

    @property
    def filter_text(self) -> str:
        return self.filter_box.value.strip().lower()

    @property
    def typed_path(self) -> Path | None:
        return typed_path(self.filter_box.value)

    def refresh_table(self) -> None:
        path = self.typed_path
        table = self.table
        table.display = path is None  # a path is opened, not looked for in the list
        if path is not None:
            table.show([])
            self._detail(self._path_hint(path))
        elif not self.rows:
            table.show((s for s in STARTERS if self.matches(s.haystack)), STARTER_COLUMNS)
            self._show_starter_detail(table.highlighted)
        else:
            self.refilter()
            self._show_detail(table.highlighted)

    # -- nothing on disk yet ----------------------------------------------------------------
    def _show_starter_detail(self, s: Starter | None) -> None:
        if s is not None:
            first = f"Enter downloads {s.repo_id} ({s.quant}) and loads it."
        elif self.filter_text:
            first = "No starter model matches the filter."
        else:
            first = "Nothing to offer."
        self._detail(f"{first}\n{self.where_text()}")

    def where_text(self) -> str:
        """Where models are looked for, and the ways to add some."""
        if not self._scanned:
            return "Looking for models …"
        lines = ["No models on disk yet. Looked for .gguf files in:"]
        lines += [f"  {short_path(p.path)} ({p.why})" for p in self.places]
        lines.append(
            "Type or paste a .gguf file or a folder of them above and press enter (a folder "
            "is added to model_dirs in config.toml), start with `gguf-tui PATH` or "
            "`--models-dir DIR`, or search Hugging Face (ctrl+g)."
        )
        return "\n".join(lines)

    # -- a path in the filter box -----------------------------------------------------------
    def _path_hint(self, path: Path) -> str:
        shown = literal(short_path(path))
        if path.is_dir():
            if self._is_searched(path):
                return f"{shown} is already searched for models; enter scans it again."
            return (
                f"Enter adds the folder {shown} to model_dirs in config.toml and lists its models."
            )
        if path.is_file():
            return f"Enter loads {shown}."
        return f"Nothing at {shown}: type a .gguf file or a folder of them."

    def _is_searched(self, folder: Path) -> bool:
        real = os.path.realpath(folder)
        return any(os.path.realpath(p.path) == real for p in self.places if p.why != BESIDE)

    # -- the detail line --------------------------------------------------------------------
    def _detail(self, text: str) -> None:
        self.query_one("#local-detail", Static).update(text)

    def _show_detail(self, m: ModelFile | None) -> None:
        if m is None:
            self._detail(
                f"Nothing matches; {len(self.rows)} models on disk. Sorted by {self.sort} (ctrl+s)."
            )
            return
        if not m.usable:
            self._detail(f"Cannot be loaded: {m.error or 'missing ' + ', '.join(m.missing_shards)}")
            return
        where = f"{m.repo_id} (Hugging Face cache)" if m.repo_id else short_path(m.path.parent)
        shards = f" · {m.n_shards} shards" if m.n_shards > 1 else ""
        found = self.measured.get(str(m.path))
        measured = f" · {label(found)}" if found is not None else ""
        self._detail(
            literal(
                f"{m.path.name}{shards} · {m.size_label} params · {m.architecture or '?'} "
                f"· {where}{measured} · sorted by {self.sort} (ctrl+s)"
            )
        )

    # -- keys ---------------------------------------------------------------------------------
    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.sort_key = _sort_key(self.sort)
        self.refresh_table()

    def filter_changed(self) -> None:
        if self._scanned:
            self.refresh_table()
        elif (path := self.typed_path) is not None:
            self._detail(self._path_hint(path))

    def submitted(self, value: str) -> None:
        path = self.typed_path
        if path is not None:
            self.post_message(self.PathEntered(path))
        elif not self._scanned:
            self._enter_pending = True  # chosen as soon as the list is there
        else:
            self.table.choose()

    @on(RowTable.Chosen)
    def _chosen(self, event: RowTable.Chosen) -> None:
        event.stop()
        row = event.row
        if isinstance(row, Starter):
            self.post_message(self.StarterChosen(row.repo_id, row.quant))
        else:
            self.post_message(self.Chosen(row))

    @on(RowTable.Highlighted)
    def _highlighted(self, event: RowTable.Highlighted) -> None:
        event.stop()
        if self.typed_path is not None:
            return
        if self.rows:
            self._show_detail(event.row)
        elif self._scanned:
            self._show_starter_detail(event.row)


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
