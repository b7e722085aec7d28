"""`gguf-tui bench MODEL [MODEL…]`: the speed and memory table of one or more models.

A folder stands for every model in it (each quantization of a model, say), so
`gguf-tui bench ~/models/qwen/` compares them all. Each model runs in its own
process with the same synthetic prompt length and exactly the same number of
generated tokens; see gguf_tui/engine/bench.py.

With `--quality`, each model is also scored against a reference as `gguf-tui quality`
does (KL divergence, same top token, perplexity; gguf_tui/quality/), first, in this
process, one model in memory at a time; a score kept from an earlier run of the same
file, reference, text and chunk size is reused, not measured again. One table then
answers "the smallest quant within X of the reference, and how fast".

Progress goes to stderr, one stage at a time ("[1/2] Q4_K_M: run 2/3 …"): rewritten
in place on a terminal, plain lines in a pipe. The table on stdout fits 100 columns
(the quantizations of one model are grouped under its name) and ends with a legend.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gguf_tui.commands import bench_quality, common

WIDTH = 100  # the table and its legend fit this many columns

PEAK_RSS_HELP = (
    "PEAK RSS is the most memory the process that ran the model held (its resident "
    "high-water mark): weights, KV cache and buffers, plus the Python and llama.cpp it "
    "had before loading (--json gives both parts: rss_before_load and model_memory)."
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure models' speed and memory",
        description="Measure prompt processing and generation speed (tok/s, ms/token, "
        "s/100 tokens), time to first token, load time and peak memory of each model, "
        "each in a fresh process, with a fixed prompt length and answer length. "
        "Figures are medians; ±N% is how far the furthest run was from the median. "
        + PEAK_RSS_HELP
        + " Exit status 1 when any model failed (its row says why).",
    )
    p.add_argument(
        "models",
        metavar="MODEL",
        nargs="+",
        help="a .gguf file, REPO:QUANT, a local model's name, or a folder (every model in it)",
    )
    g = p.add_argument_group("measurement")
    g.add_argument("--prompt-tokens", type=int, default=512, metavar="N", help="default 512")
    g.add_argument(
        "--gen-tokens",
        type=int,
        default=128,
        metavar="N",
        help="tokens generated per run, past end-of-text (default 128)",
    )
    g.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="runs per model (default 3): the median, ± the furthest run from it",
    )
    g.add_argument("--no-warmup", action="store_true", help="count the first run too")
    g.add_argument("--seed", type=int, default=1234, help="sampling seed (default 1234)")
    g.add_argument("--json", action="store_true", help="print JSON instead of a table")
    m = p.add_argument_group("how each model loads (llama.cpp's names; default: config.toml's)")
    common.add_load_options(m)
    for action in m._group_actions:  # the runs size their own context
        if action.dest == "n_ctx":
            action.help = "context window (default: just enough for the prompt and the answer)"
    m.add_argument("--chat-format", metavar="NAME", help="prompt format instead of the template")
    q = p.add_argument_group("quality (see docs/quality.md)")
    q.add_argument(
        "--quality",
        action="store_true",
        help="also score each model against a reference, as `gguf-tui quality` does "
        "(KLD, same top token, perplexity); a score kept from an earlier run is reused",
    )
    q.add_argument(
        "--reference",
        metavar="FILE",
        help="the model to compare against (default: the highest-precision sibling on disk)",
    )
    q.add_argument("--text", metavar="FILE", help="a UTF-8 text to score on (default: the sample)")
    q.add_argument(
        "--ctx",
        type=int,
        default=512,
        metavar="N",
        help="tokens per scored chunk (default 512; not the speed runs' --n-ctx)",
    )
    q.add_argument("--chunks", type=int, metavar="K", help="score at most K chunks")
    q.add_argument(
        "--within",
        type=float,
        metavar="KLD",
        help="mark the smallest model whose mean KLD is at most KLD (implies --quality)",
    )
    q.add_argument("--rescore", action="store_true", help="score again even where a score is kept")
    common.add_data_options(p)


def run(args: argparse.Namespace) -> int:
    from gguf_tui.commands.output import say

    try:
        return _run(args)
    except KeyboardInterrupt:  # the speed runs (the scoring has its own handler)
        say("gguf-tui: stopped (Ctrl+C)")
        return 130


def _run(args: argparse.Namespace) -> int:
    from gguf_tui.commands.output import say
    from gguf_tui.engine.bench import BenchConfig, BenchResult, run_benchmark, system_info

    if args.within is not None:
        args.quality = True
    if args.quality:
        bench_quality.check_args(args)
    ctx = common.open_context(args)
    options = common.load_options(args, ctx.settings)
    try:
        config = BenchConfig(
            prompt_tokens=args.prompt_tokens,
            gen_tokens=args.gen_tokens,
            repeat=args.repeat,
            n_gpu_layers=options.n_gpu_layers,
            n_threads=options.n_threads,
            n_ctx=args.n_ctx,
            chat_format=options.chat_format,
            seed=args.seed,
            warmup=not args.no_warmup,
            cache_type_k=options.cache_type_k,
            cache_type_v=options.cache_type_v,
            flash_attn=options.flash_attn,
            n_batch=options.n_batch,
            n_ubatch=options.n_ubatch,
            use_mmap=options.use_mmap,
            use_mlock=options.use_mlock,
        )
    except ValueError as exc:
        raise common.CliError(str(exc)) from None
    targets = expand(args.models, ctx)
    paths = [t.path for t in targets if t.path is not None]
    quality: bench_quality.QualityRun | None = None
    if args.quality and paths:
        quality = bench_quality.plan(args, ctx, paths)
        if not bench_quality.score_missing(quality, ctx):
            say("gguf-tui: stopped (Ctrl+C): nothing was saved")
            return 130
    shown = ProgressLine(sys.stderr, len(paths))
    measured = iter(
        run_benchmark(
            paths,
            config,
            on_result=shown.finished,
            on_start=shown.started,
            on_progress=shown.progress,
        )
    )
    try:
        results = [
            next(measured) if t.path is not None else BenchResult(t.spec, error=t.error)
            for t in targets
        ]
    finally:
        shown.close()
    if args.json:
        data: dict[str, object] = {"config": config.to_dict(), "system": system_info()}
        rows = [r.to_dict() for r in results]
        if quality is not None:
            data["quality"] = quality.to_dict(results)
            smallest = quality.smallest_within(results)
            for r, row in zip(results, rows, strict=True):
                row.update(quality.keys_for(r, smallest))
        data["results"] = rows
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        width = table_width(sys.stdout)
        dropped = print_table(results, config.repeat > 1, width=width, quality=quality)
        print_legend(results, config, width=width, dropped=dropped, quality=quality)
    failed = quality is not None and any(q.error for q in quality.scores.values())
    return 0 if all(r.ok for r in results) and not failed else 1


class ProgressLine:
    """What the benchmark is doing now, on stderr: one line rewritten in place on a
    terminal (a finished model keeps its own line), plain lines anywhere else."""

    def __init__(self, err: TextIO, count: int) -> None:
        self.err, self.count, self.done = err, count, 0
        self.label = ""
        try:
            self.tty = err.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self._pending = False  # a transient line is on the screen

    def started(self, path: Path) -> None:
        from gguf_tui.models.quant import quant_from_filename

        self.label = quant_from_filename(path.name) or path.name
        self._say(f"{path.name}: loading …")

    def progress(self, _path: Path, step) -> None:
        if step.stage == "run":
            tps = step.last_tokens_per_second
            last = f" (run {step.run - 1}: {tps:.1f} tok/s)" if tps else ""
            self._say(f"{self.label}: run {step.run}/{step.of} …{last}")
        elif step.stage == "warm-up":
            self._say(f"{self.label}: warm-up …")

    def finished(self, result) -> None:
        self.done += 1
        if result.ok:
            tps = result.spread("generation_tokens_per_second").median
            self._say(f"{self.label}: done · {tps:.1f} tok/s", keep=True)
        else:
            self._say(f"{self.label}: failed (see the table)", keep=True)

    def close(self) -> None:
        if self._pending:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._pending = False

    def _say(self, text: str, keep: bool = False) -> None:
        from gguf_tui.tui.text import literal

        n = min(self.done + 1, self.count) if not keep else self.done
        line = literal(f"[{n}/{self.count}] {text}")
        if not self.tty:
            print(literal(line), file=self.err, flush=True)
            return
        try:
            cols = os.get_terminal_size(self.err.fileno()).columns
        except (OSError, ValueError, AttributeError):
            cols = 80
        if len(line) >= cols:  # a wrapped line could not be rewritten in place
            line = line[: max(1, cols - 2)] + "…"
        self.err.write("\r" + literal(line) + "\x1b[K" + ("\n" if keep else ""))
        self.err.flush()
        self._pending = not keep


def expand(specs: list[str], ctx: common.Context) -> list:
    """Folders become their models (broken ones as error rows); other specs resolve
    like `run`'s MODEL, and one that names nothing is an error row, not the end."""
    from gguf_tui.engine.bench import Target, folder_targets

    targets: list[Target] = []
    for spec in specs:
        folder = Path(spec).expanduser()
        if folder.is_dir():
            targets.extend(folder_targets(folder, ctx.paths.scan_cache))
            continue
        try:
            targets.append(Target(spec, common.resolve_model(spec, ctx)))
        except common.CliError as exc:
            targets.append(Target(spec, None, str(exc)))
    return targets


COLUMNS = (
    # header, metric, digits, scale, with ± (over several runs)
    ("PROMPT tok/s", "prompt_tokens_per_second", 0, 1.0, True),
    ("GEN tok/s", "generation_tokens_per_second", 1, 1.0, True),
    ("ms/tok", "ms_per_token", 1, 1.0, False),
    ("s/100 tok", "seconds_per_100_tokens", 2, 1.0, False),
    ("TTFT ms", "time_to_first_token", 0, 1000.0, False),
)
KV_FA = "KV FA"  # the KV-cache types and flash attention each model loaded with
HEADER = ("MODEL / QUANT", "SIZE", "LOAD s", *(c[0] for c in COLUMNS), "PEAK RSS", KV_FA)
QUALITY_HEADER = ("KLD", "SAME TOP", "PPL")  # with --quality, after PEAK RSS


def header(quality: bench_quality.QualityRun | None = None) -> tuple[str, ...]:
    return HEADER + QUALITY_HEADER if quality is not None else HEADER


def table_rows(
    results: list, repeated: bool, quality: bench_quality.QualityRun | None = None
) -> list[tuple[str, ...]]:
    """The table as text cells, header first (shared by the terminal and its tests).

    A model's name is a row of its own (one cell) above its quantizations' rows; a
    model that failed is a row of two cells, its name and the error. With `quality`,
    the smallest model within `--within` is marked `*` before its quantization."""
    from gguf_tui.engine.bench import Spread, format_deviation
    from gguf_tui.models.units import format_bytes

    smallest = quality.smallest_within(results) if quality is not None else None
    rows: list[tuple[str, ...]] = [header(quality)]
    group = None
    for r in results:
        if not r.ok:
            name = Path(r.path).name if r.path.lower().endswith(".gguf") else r.path
            error = (r.error or "no runs").replace(r.path, name) if name != r.path else r.error
            rows.append((name, f"error: {error}"))
            group = None
            continue
        if r.name != group:
            rows.append((r.name,))
            group = r.name
        cells = []
        for _, metric, digits, scale, spread in COLUMNS:
            s = r.spread(metric)
            scaled = Spread(*(v * scale for v in (s.median, s.low, s.high)))
            cells.append(format_deviation(scaled, digits, repeated and spread))
        mark = "* " if smallest is not None and str(r.path) == smallest else "  "
        extra = bench_quality.quality_cells(quality.figures(r)) if quality is not None else ()
        rows.append(
            (
                f"{mark}{r.quant or r.label}",
                format_bytes(r.size_bytes),
                f"{r.load_seconds:.2f}",
                *cells,
                format_bytes(r.peak_rss),
                r.kv_flash,
                *extra,
            )
        )
    return rows


# Left out, in this order, when the table would be wider than the terminal.
DROPPABLE = ("s/100 tok", "LOAD s", "ms/tok", KV_FA, "TTFT ms", "PPL", "PROMPT tok/s")


def table_width(out: TextIO) -> int:
    """WIDTH, or a narrower terminal's width when the table goes to one."""
    try:
        if out.isatty():
            return max(40, min(WIDTH, os.get_terminal_size(out.fileno()).columns))
    except (AttributeError, ValueError, OSError):
        pass
    return WIDTH


def print_table(
    results: list,
    repeated: bool,
    out: TextIO = sys.stdout,
    width: int = WIDTH,
    quality: bench_quality.QualityRun | None = None,
) -> list[str]:
    """The table, no line wider than `width`; returns the columns left out to fit it."""
    from gguf_tui.tui.text import literal

    head = header(quality)
    rows = table_rows(results, repeated, quality)
    full = [r for r in rows if len(r) == len(head)]
    widths = [max(len(r[i]) for r in full) for i in range(len(head))]
    keep = list(range(len(head)))
    dropped: list[str] = []
    for name in DROPPABLE:
        if sum(widths[i] for i in keep) + 2 * (len(keep) - 1) <= width:
            break
        if name in head:
            keep.remove(head.index(name))
            dropped.append(name)
    for row in rows:
        if len(row) == len(head):
            line = "  ".join(row[i].ljust(widths[i]) for i in keep).rstrip()
            print(literal(line), file=out)
            continue
        # a model's name, or a failed model's name and why: wrapped, never wider
        for line in textwrap.wrap(
            "  ".join(row), width, subsequent_indent="    ", break_on_hyphens=False
        ):
            print(literal(line), file=out)
    return dropped


def print_legend(
    results: list,
    config,
    out: TextIO = sys.stdout,
    width: int = WIDTH,
    dropped: Sequence[str] = (),
    quality: bench_quality.QualityRun | None = None,
) -> None:
    """What the figures are, under the table: the runs behind them, then PEAK RSS."""
    from gguf_tui.tui.text import literal

    ok = [r for r in results if r.ok]
    if not ok:
        return
    from gguf_tui.engine.bench import Spread
    from gguf_tui.models.units import format_bytes

    base = Spread.of(r.rss_before_load for r in ok).median
    if config.repeat > 1:
        runs = f"Medians of {config.repeat} runs, ± the furthest run from the median"
    else:
        runs = "One run"

    def whole(words: str) -> str:  # kept on one line by the wrapping
        return words.replace(" ", "\xa0")

    text = (
        f"{runs}; a run is a {config.prompt_tokens}-token prompt and {config.gen_tokens} "
        f"generated tokens. {whole('TTFT:')} time to the first token. {whole('PEAK RSS:')} "
        "the most memory the model's process held (weights, KV cache and buffers, plus "
        f"{whole(format_bytes(base))} of Python and llama.cpp before loading)."
    )
    text += (
        f" {whole('KV FA:')} the KV cache types (K/V where they differ) and flash attention "
        f"each model loaded with; asked for: {whole(config.load_flags)}."
    )
    if quality is not None:
        text += " " + bench_quality.legend(results, quality, whole)
    if dropped:
        left_out = ", ".join(whole(d) for d in dropped)
        text += f" Left out to fit {width} columns: {left_out} (--json has them)."
    print(file=out)
    for line in textwrap.wrap(text, width):
        print(literal(line.replace("\xa0", " ")), file=out)
    if quality is not None:  # why a model has no quality figures, one line each
        for r in results:
            f = quality.figures(r)
            if r.ok and f is not None and f.error:
                why = f"{r.label}: not scored: {f.error}"
                for line in textwrap.wrap(why, width, subsequent_indent="    "):
                    print(literal(line), file=out)
