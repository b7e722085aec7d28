"""`gguf-tui bench MODEL [MODEL…]`: the speed and memory table of one or more models.

A folder stands for every model in it (each quantization of a model, say), so
`gguf-tui bench ~/models/qwen/` compares them all. Each model runs in its own
process with the same synthetic prompt length and exactly the same number of
generated tokens; see gguf_tui/engine/bench.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from gguf_tui.commands import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure models' speed and memory",
        description="Measure prompt processing and generation speed (tok/s, ms/token, "
        "s/100 tokens), time to first token, load time and peak memory of each model, "
        "each in a fresh process, with a fixed prompt length and answer length. "
        "Exit status 1 when any model failed (its row says why).",
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
        help="runs per model (default 3): median, min–max",
    )
    g.add_argument("--no-warmup", action="store_true", help="count the first run too")
    g.add_argument("--seed", type=int, default=1234, help="sampling seed (default 1234)")
    g.add_argument("--json", action="store_true", help="print JSON instead of a table")
    m = p.add_argument_group("model")
    m.add_argument(
        "--n-gpu-layers", type=int, metavar="N", help="layers to offload to the GPU (-1 all)"
    )
    m.add_argument("--threads", type=int, metavar="N", help="CPU threads")
    m.add_argument(
        "--n-ctx", type=int, metavar="N", help="context window (default: prompt + answer)"
    )
    m.add_argument("--chat-format", metavar="NAME", help="prompt format instead of the template")
    common.add_data_options(p)


def run(args: argparse.Namespace) -> int:
    from gguf_tui.engine.bench import BenchConfig, BenchResult, run_benchmark, system_info

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
        )
    except ValueError as exc:
        raise common.CliError(str(exc)) from None
    targets = expand(args.models, ctx)
    paths = [t.path for t in targets if t.path is not None]
    count = len(paths)
    done = 0

    def started(path: Path) -> None:
        print(f"[{done + 1}/{count}] {path.name} …", file=sys.stderr, flush=True)

    def finished(_result: BenchResult) -> None:
        nonlocal done
        done += 1

    measured = iter(run_benchmark(paths, config, on_result=finished, on_start=started))
    results = [
        next(measured) if t.path is not None else BenchResult(t.spec, error=t.error)
        for t in targets
    ]
    if args.json:
        data = {"config": config.to_dict(), "system": system_info()}
        data["results"] = [r.to_dict() for r in results]
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(results, config.repeat > 1)
    return 0 if all(r.ok for r in results) else 1


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
    # header, metric, digits, scale
    ("PROMPT tok/s", "prompt_tokens_per_second", 0, 1.0),
    ("GEN tok/s", "generation_tokens_per_second", 1, 1.0),
    ("ms/tok", "ms_per_token", 1, 1.0),
    ("s/100 tok", "seconds_per_100_tokens", 2, 1.0),
    ("TTFT ms", "time_to_first_token", 0, 1000.0),
)


def table_rows(results: list, repeated: bool) -> list[tuple[str, ...]]:
    """The table as text cells, header first (shared by the terminal and its tests)."""
    from gguf_tui.engine.bench import Spread, format_spread
    from gguf_tui.models.units import format_bytes

    rows = [("MODEL", "QUANT", "SIZE", "LOAD s", *(c[0] for c in COLUMNS), "PEAK RSS (+model)")]
    for r in results:
        if not r.ok:
            name = Path(r.path).name if r.path.lower().endswith(".gguf") else r.path
            rows.append((name, "-", "-", "-", f"error: {r.error}"))
            continue
        cells = []
        for _, metric, digits, scale in COLUMNS:
            s = r.spread(metric)
            cells.append(
                format_spread(
                    Spread(*(v * scale for v in (s.median, s.low, s.high))), digits, repeated
                )
            )
        rows.append(
            (
                r.name,
                r.quant,
                format_bytes(r.size_bytes),
                f"{r.load_seconds:.2f}",
                *cells,
                f"{format_bytes(r.peak_rss)} (+{format_bytes(r.model_memory)})",
            )
        )
    return rows


def print_table(results: list, repeated: bool, out: TextIO = sys.stdout) -> None:
    rows = table_rows(results, repeated)
    full = [r for r in rows if len(r) == len(rows[0])]
    widths = [max(len(r[i]) for r in full) for i in range(len(rows[0]))]
    for row in rows:
        if len(row) < len(rows[0]):  # an error row: the message runs on
            lead = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
            print("  ".join([*lead, row[-1]]), file=out)
            continue
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
