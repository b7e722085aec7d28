"""Benchmark the quantizations of a model side by side: a table and bar charts.

The measuring is `gguf_tui.engine.bench`, the same as `gguf-tui bench`: every
model runs in its own worker process. That is what lets this screen run next
to a chat: the app's engine keeps its model loaded (a second model in the app's
own process would share its memory and its crash fate), and each row's peak
memory is that model's alone. A reply streaming meanwhile would compete for
the CPU, so the screen says so when one is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import HorizontalGroup, VerticalGroup, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from gguf_tui.engine import LoadOptions
from gguf_tui.engine.bench import BenchConfig, BenchResult, Target, run_benchmark
from gguf_tui.models.units import format_bytes
from gguf_tui.quality.results import QualityRecord
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import cell, literal
from gguf_tui.tui.widgets.bar_chart import BarChart

if TYPE_CHECKING:
    from gguf_tui.tui.app import GgufTuiApp

# Short enough to compare six quantizations of a 7B model on a CPU in a few minutes.
SCREEN_CONFIG = BenchConfig(prompt_tokens=256, gen_tokens=64, repeat=1)
# Size, memory and quality first: "the smallest quant still good enough, and how fast"
# reads from the left, in 80 columns too (the table scrolls sideways for the rest).
COLUMNS: tuple[str, ...] = ("Model", "Quant", "Size", "Peak RSS", "KLD", "Same top")
COLUMNS += ("Gen tok/s", "Prompt tok/s", "TTFT ms", "ms/tok", "s/100 tok", "Load s", "Note")
NOT_SCORED = "not scored"


def quality_cells(q: QualityRecord | None) -> tuple[Text, Text]:
    """The KLD and same-top-token cells of a kept score, "not scored" (dim) without one."""
    if q is None:
        return cell(NOT_SCORED, "dim"), cell("", "dim")
    return (
        cell(f"{q.kld_mean:.4f}", justify="right"),
        cell(f"{q.top1_agreement:.1f} %", justify="right"),
    )


def result_cells(r: BenchResult, quality: QualityRecord | None = None) -> tuple[Text, ...]:
    """One table row: medians (the CLI shows min–max too; here one run is the default).
    Every cell `cell()`: a file name is shown as written, never read as markup."""
    scored = quality_cells(quality)
    if not r.ok:
        error = cell(f"error: {r.error}", "bad")
        dashes = [cell("-")] * 6
        return (
            cell(Path(r.path).name),
            cell(r.label),
            cell("-"),
            cell("-"),
            *scored,
            *dashes,
            error,
        )

    def num(metric: str, digits: int, scale: float = 1.0) -> Text:
        return cell(f"{r.spread(metric).median * scale:.{digits}f}", justify="right")

    return (
        cell(r.name),
        cell(r.label),
        cell(format_bytes(r.size_bytes)),
        cell(format_bytes(r.peak_rss)),
        *scored,
        num("generation_tokens_per_second", 1),
        num("prompt_tokens_per_second", 0),
        num("time_to_first_token", 0, 1000.0),
        num("ms_per_token", 1),
        num("seconds_per_100_tokens", 2),
        cell(f"{r.load_seconds:.2f}", justify="right"),
        cell(""),
    )


class BenchScreen(Screen):
    """Measure `targets` (or the sibling quantizations of `around`) in a worker."""

    CSS_PATH = "bench.tcss"
    BINDINGS = to_bindings(keymap.BENCH_ACTIONS)

    app: GgufTuiApp

    def __init__(
        self,
        targets: list[Target] | None = None,
        *,
        around: Path | None = None,
        folder: Path | None = None,
        config: BenchConfig | None = None,
    ) -> None:
        super().__init__()
        self.targets = targets
        self.around = around
        self.folder = folder
        self.config = config or SCREEN_CONFIG
        self.results: list[BenchResult] = []
        self.quality: dict[str, QualityRecord | None] = {}  # kept scores, by result path
        self.finished = False
        self._cancel = threading.Event()
        self.worker_done = threading.Event()  # the worker thread (and its process) ended
        self.worker_done.set()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="bench-body"):
            yield Static("Benchmark", id="bench-title", markup=False)
            yield Static("finding the quantizations …", id="bench-status", markup=False)
            yield Static("", id="bench-errors", markup=False)
            yield DataTable(id="bench-table", cursor_type="row", zebra_stripes=True)
            with VerticalGroup(id="bench-charts"):  # speed, then memory and quality
                with HorizontalGroup():
                    yield BarChart("Generation tok/s", digits=1, id="chart-gen")
                    yield BarChart("Prompt tok/s", digits=0, id="chart-prompt")
                with HorizontalGroup():
                    yield BarChart("Peak memory, MB", digits=0, id="chart-memory")
                    yield BarChart(
                        "Same top token",
                        digits=1,
                        missing=NOT_SCORED,
                        unit=" %",
                        scale=100.0,
                        id="chart-top",
                    )
            yield Static("", id="bench-quality-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self._start()

    def on_unmount(self) -> None:
        self._cancel.set()  # ends the worker process within a tenth of a second

    # -- running ------------------------------------------------------------------------
    def _start(self) -> None:
        self._cancel = threading.Event()
        self.worker_done = threading.Event()
        self.results = []
        self.quality = {}
        self.finished = False
        self.query_one(DataTable).clear()
        self.query_one("#bench-errors", Static).update("")
        self._draw_charts()
        c = self.config
        runs = "1 run" if c.repeat == 1 else f"{c.repeat} runs (medians)"
        self.query_one("#bench-title", Static).update(
            f"Benchmark: prompt ≈{c.prompt_tokens} tokens, answer {c.gen_tokens} tokens, "
            f"{runs} per model; each model in its own process, the chat's model stays loaded"
        )
        if self._reply_in_flight():
            self.notify("An answer is being written: it competes for the CPU and skews figures.")
        app, cancel, done, cache, data_dir = (
            self.app,
            self._cancel,
            self.worker_done,
            self.app.paths.scan_cache,
            self.app.paths.data_dir,
        )

        def post(fn, *args) -> None:
            """Hand a result to the UI thread, unless the screen has gone meanwhile."""
            if not cancel.is_set():
                try:
                    app.call_from_thread(fn, *args)
                except RuntimeError:  # the app is closing
                    cancel.set()

        def work() -> None:
            try:
                self._work(post, cancel, cache, data_dir)
            finally:
                done.set()

        self.run_worker(work, thread=True, group="bench")

    def _reply_in_flight(self) -> bool:
        return self.app.answer.writing

    def _work(self, post, cancel: threading.Event, cache: Path, data_dir: Path) -> None:
        """The worker thread: find the models, then measure them one by one (each row
        with the quality score kept for its file, read here: quality.json is a file)."""
        from gguf_tui.quality import results as kept

        started = time.monotonic()
        targets = self.targets or self._find_targets(cache)
        post(self._status, f"{len(targets)} model(s) to measure …")
        records = kept.load(data_dir)
        paths = [t.path for t in targets if t.path is not None]
        position = {p: n for n, p in enumerate(paths, 1)}
        for t in targets:
            if t.path is None:
                post(self._add, BenchResult(t.spec, error=t.error), None)

        def starting(path: Path) -> None:
            post(self._status, f"measuring {path.name} ({position[path]}/{len(paths)}) …")

        def measured(r: BenchResult) -> None:
            post(self._add, r, kept.lookup(data_dir, r.path, records))

        run_benchmark(paths, self.config, measured, starting, cancel)
        post(self._done, time.monotonic() - started)

    def _find_targets(self, cache: Path) -> list[Target]:
        from gguf_tui.engine.bench import folder_targets, sibling_targets

        if self.folder is not None:
            return folder_targets(self.folder, cache)
        assert self.around is not None
        return sibling_targets(self.around, cache)

    # -- showing (UI thread) --------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.query_one("#bench-status", Static).update(literal(text))

    def _add(self, result: BenchResult, quality: QualityRecord | None = None) -> None:
        self.results.append(result)
        self.quality[result.path] = quality
        self.query_one(DataTable).add_row(*result_cells(result, quality))
        self._draw_charts()
        errors = [f"{Path(r.path).name}: {r.error}" for r in self.results if not r.ok]
        self.query_one("#bench-errors", Static).update(literal("\n".join(errors)))

    def _draw_charts(self) -> None:
        def value(r: BenchResult, metric: str) -> float | None:
            return r.spread(metric).median if r.ok else None

        gen = [(r.label, value(r, "generation_tokens_per_second")) for r in self.results]
        prompt = [(r.label, value(r, "prompt_tokens_per_second")) for r in self.results]
        self.query_one("#chart-gen", BarChart).set_bars(gen)
        self.query_one("#chart-prompt", BarChart).set_bars(prompt)
        memory = [(r.label, r.peak_rss / 1e6 if r.ok else None) for r in self.results]
        self.query_one("#chart-memory", BarChart).set_bars(memory)
        kept = {r.path: self.quality.get(r.path) for r in self.results}
        top = [(r.label, q.top1_agreement if (q := kept[r.path]) else None) for r in self.results]
        refs = sorted({q.reference_quant for q in kept.values() if q is not None})
        title = f"Same top token as {refs[0]}" if len(refs) == 1 else "Same top token"
        self.query_one("#chart-top", BarChart).set_bars(top, title)
        note = Text(quality_note(kept.values()), style="dim")
        self.query_one("#bench-quality-note", Static).update(note)

    def _done(self, seconds: float) -> None:
        self.finished = True
        failed = sum(not r.ok for r in self.results)
        note = f", {failed} failed" if failed else ""
        self._status(f"done: {len(self.results)} model(s) in {seconds:.1f} s{note} · r runs again")

    # -- actions ----------------------------------------------------------------------------
    def action_close(self) -> None:
        self._cancel.set()
        self.app.pop_screen()

    def action_rerun(self) -> None:
        if not self.finished:
            self.notify("Still measuring: wait for it, or close with escape.")
            return
        self._start()


def quality_note(kept) -> str:
    """Where the quality figures come from, and how to get the missing ones."""
    records = [q for q in kept if q is not None]
    missing = sum(q is None for q in kept)
    if not records and not missing:
        return ""
    parts = []
    if records:
        refs = ", ".join(sorted({q.reference_quant for q in records}))
        texts = ", ".join(sorted({q.text for q in records}))
        parts.append(f"KLD and same top token: kept scores against {refs} on {texts}")
    if missing:
        parts.append(
            f"{missing} not scored: gguf-tui bench --quality (or gguf-tui quality) measures them"
        )
    return literal(" · ".join(parts))


def config_for(options: LoadOptions) -> BenchConfig:
    """The screen's lengths with the app's threads, GPU layers and chat format."""
    return replace(
        SCREEN_CONFIG,
        n_gpu_layers=options.n_gpu_layers,
        n_threads=options.n_threads,
        chat_format=options.chat_format,
    )


def open_bench(app: GgufTuiApp) -> None:
    """The command palette's entry (GgufTuiApp.open_bench, which asks where when no
    model is loaded: the dialogs live above this screen)."""
    app.open_bench()
