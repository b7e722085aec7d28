"""Choose another quantization of the model in use (`f3`, and "Answer again with…").

Lists every sibling on disk and, for a model from the Hugging Face cache, every
quantization its repository offers, with size, bits per weight and whether it
fits in memory. The current one is marked. Returns the choice; the caller
switches (and downloads first when the choice is not on disk).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static
from textual.worker import get_current_worker

from gguf_tui.models.catalog import ModelFile
from gguf_tui.models.hub.listing import RemoteQuant
from gguf_tui.models.quant import quality_hint
from gguf_tui.models.units import format_bytes
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import cell
from gguf_tui.tui.widgets.filter_table import Column, FilterTable, RowTable

if TYPE_CHECKING:
    from gguf_tui.tui.app import GgufTuiApp


@dataclass(frozen=True, slots=True)
class QuantChoice:
    """One row: a file on disk, or a quantization still to download."""

    quant: str
    size: int
    bits_per_weight: float | None
    fit: str  # "fits" / "tight" / "too big" / ""
    path: Path | None = None  # on disk
    remote: RemoteQuant | None = None  # to download
    # `gguf-tui quality`'s figures for this very file ("KLD 0.021 · 97.1 % same top token
    # vs Q8_0"), or "" where it was never scored; the row then shows the usual guidance.
    measured: str = ""
    kld: float | None = None

    @property
    def on_disk(self) -> bool:
        return self.path is not None

    @property
    def key(self) -> str:
        return str(self.path) if self.path is not None else f"hub:{self.quant}"


def same_file(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def merge_choices(
    local: list[ModelFile],
    remote: list[RemoteQuant],
    n_ctx: int = 4096,
    kv_types: tuple[str, str] | None = None,
) -> list[QuantChoice]:
    """Files on disk first-class; a repository's quantization only where none is on disk.
    Memory is estimated with the KV-cache types the model would load with."""
    from gguf_tui.models.memory import DEFAULT_KV_TYPE, estimate_memory, system_memory

    kv = kv_types or (DEFAULT_KV_TYPE, DEFAULT_KV_TYPE)

    memory = system_memory()
    choices = [
        QuantChoice(
            m.quant,
            m.file_size,
            m.bits_per_weight,
            _fit(estimate_memory(m.file_size, n_ctx, m.kv_bytes_per_token, memory, kv)),
            path=m.path,
        )
        for m in local
    ]
    have = {c.quant.upper() for c in choices}
    for q in remote:
        if q.quant.upper() not in have and not q.missing_shards:
            fit = _fit(q.memory) if q.memory else ""
            choices.append(QuantChoice(q.quant, q.size, q.bits_per_weight, fit, remote=q))
    return sorted(choices, key=lambda c: (c.bits_per_weight or 99, c.size))


def _fit(estimate) -> str:
    """`1.2 GB · fits in RAM`: what the model needs at this context size, and where."""
    return f"{format_bytes(estimate.total)} · {estimate.label}"


def _quality(c: QuantChoice) -> Text:
    """The measured KLD where this file was scored, else the usual guidance, dimmed."""
    if c.kld is not None:
        return cell(f"KLD {c.kld:.3f}")
    return cell(quality_hint(c.quant), "dim")


class QuantSwitcher(ModalScreen[QuantChoice | None]):
    BINDINGS = to_bindings(keymap.QUANT_SWITCHER_ACTIONS)

    app: GgufTuiApp

    def __init__(self, title: str = "Switch quantization") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.choices: list[QuantChoice] = []
        self.columns: tuple[Column[QuantChoice], ...] = (
            Column("", lambda c: "●" if self._in_use(c) else ""),
            Column("quant", lambda c: cell(c.quant)),
            Column("size", lambda c: cell(format_bytes(c.size))),
            Column(
                "bits/w", lambda c: cell(f"{c.bits_per_weight:.2f}" if c.bits_per_weight else "")
            ),
            Column("quality", _quality),
            Column("memory needed", lambda c: cell(c.fit)),
            Column("where", lambda c: "on disk" if c.on_disk else cell("download", "warn")),
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog switcher"):
            yield Label(self.title_text, markup=False)
            yield FilterTable(
                placeholder="Type to filter · enter to choose",
                filter_id="quant-filter",
                table_id="quant-table",
                key=lambda c: c.key,
                haystack=lambda c: c.quant,
                columns=self.columns,
            )
            yield Static("Looking for other quantizations …", id="quant-detail", markup=False)

    def on_mount(self) -> None:
        self.query_one(FilterTable).refilter()  # the headings, before the rows come
        self.query_one("#quant-filter").focus()
        self.find_siblings()

    @property
    def shown(self) -> list[QuantChoice]:
        return self.query_one(FilterTable).shown

    def _in_use(self, c: QuantChoice) -> bool:
        info = self.app.engine.info
        here = info.path if info is not None else None
        return c.path is not None and here is not None and same_file(c.path, here)

    @work(thread=True, exclusive=True)
    def find_siblings(self) -> None:
        from gguf_tui.models.catalog import siblings_of

        app = self.app
        info = app.engine.info
        if info is None or info.path is None:
            app.call_from_thread(self._say, "No model is loaded.")
            return
        worker = get_current_worker()
        models = app.models.scan(cancelled=lambda: worker.is_cancelled).models
        if worker.is_cancelled:
            return
        here = os.path.realpath(info.path)  # the scan may list it through a link
        current = next((m for m in models if os.path.realpath(m.path) == here), None)
        local = siblings_of(current, models) if current else []
        n_ctx, kv = info.n_ctx or 4096, info.kv_types  # the types in use (f4 may set them)
        app.call_from_thread(self._show, self._measured(merge_choices(local, [], n_ctx, kv)))
        if current is not None and current.repo_id:
            remote = self._remote(current.repo_id)
            choices = merge_choices(local, remote, n_ctx, kv)
            app.call_from_thread(self._show, self._measured(choices))

    def _measured(self, choices: list[QuantChoice]) -> list[QuantChoice]:
        """Each file on disk with the KL divergence `gguf-tui quality` measured for it
        (read here, on the worker thread: quality.json is a file)."""
        from dataclasses import replace

        from gguf_tui.quality import results

        data_dir = self.app.paths.data_dir
        records = results.load(data_dir)
        out = []
        for c in choices:
            found = results.lookup(data_dir, c.path, records) if c.path and records else None
            if found is not None:
                c = replace(c, measured=results.label(found), kld=found.kld_mean)
            out.append(c)
        return out

    def _remote(self, repo_id: str) -> list[RemoteQuant]:
        from gguf_tui.models.hub.errors import HubError
        from gguf_tui.models.hub.listing import list_quants

        try:
            options, info = self.app.load_options, self.app.engine.info
            kv = info.kv_types if info is not None else options.kv_types  # the types in use
            return list_quants(repo_id, n_ctx=options.n_ctx or 4096, kv_types=kv)
        except HubError as exc:  # offline is normal: show what is on disk
            self.app.call_from_thread(self._say, f"Only files on disk ({exc})")
            return []

    def _say(self, text: str) -> None:
        self.query_one("#quant-detail", Static).update(text)

    def _show(self, choices: list[QuantChoice]) -> None:
        self.choices = choices
        self.query_one(FilterTable).set_rows(choices)
        on_disk = sum(c.on_disk for c in choices)
        self._say(f"{on_disk} on disk, {len(choices) - on_disk} to download · ● is in use")

    @on(RowTable.Highlighted)
    def _highlighted(self, event: RowTable.Highlighted) -> None:
        """The measured figures of the highlighted row, in full, under the table."""
        c = event.row
        if c is not None and c.measured:
            self._say(f"{c.quant}: {c.measured}")

    @on(RowTable.Chosen)
    def _chosen(self, event: RowTable.Chosen) -> None:
        self.dismiss(event.row)
