"""Resident memory at a long context with a q8_0 KV cache against f16 (issue 15).

Target: at `--n-ctx 8192`, RSS with `--cache-type-k q8_0 --cache-type-v q8_0` is lower
than with f16 by at least 40 % of the f16 KV cache's size (q8_0 keeps 34 of every 64
bytes, so the most it can save is 47 %).

Each case runs in a fresh process (`--child`), loads the model through the real Engine
with flash attention as the app would (auto), answers one short prompt (so the cache is
in use, not only reserved) and reports its resident set; the cases alternate
(f16, q8_0, f16, …) and the figures are medians.

    python -m benchmarks.kv_cache_memory [--model PATH] [--n-ctx 8192] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ROOT, machine, machine_line, median, save, verdict

CASES = ("f16", "q8_0")
TARGET_SHARE = 0.40  # of the f16 KV cache, the least the saving should be
MIB = 1 << 20


def _status(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def child(model: Path, n_ctx: int, cache_type: str) -> None:
    """One case in this process: the figures as one JSON line on stdout."""
    from gguf_tui.engine import Engine, LoadOptions, Sampling

    before = _status("VmRSS")
    options = LoadOptions(n_ctx=n_ctx, cache_type_k=cache_type, cache_type_v=cache_type)
    with Engine() as engine:
        info = engine.load(model, options).result(300)
        loaded = _status("VmRSS")
        ask = [{"role": "user", "content": "Name three rivers."}]
        engine.chat(ask, Sampling(temperature=0, seed=1, max_tokens=16)).result(300)
        answered = _status("VmRSS")
        peak = _status("VmHWM")
        n_ctx_used = info.n_ctx
    row = {
        "cache_type": cache_type,
        "n_ctx": n_ctx_used,
        "rss_before_load": before,
        "rss_loaded": loaded,
        "rss_answered": answered,
        "peak_rss": peak,
    }
    print(json.dumps(row), flush=True)


def run_case(model: Path, n_ctx: int, cache_type: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.kv_cache_memory", "--model", str(model)]
    cmd += ["--n-ctx", str(n_ctx), "--child", cache_type]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{cache_type} case failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a GGUF (default: the test SmolLM2 Q4_1)")
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        from tests.support.models import smollm

        args.model = smollm()
    if args.child:
        child(args.model, args.n_ctx, args.child)
        return 0

    from gguf_tui.models.gguf_file import read_header
    from gguf_tui.models.memory import kv_bytes_per_token

    info = machine()
    print(machine_line(info))
    meta = read_header(args.model, tensors=False).metadata
    rows: list[dict] = []
    for i in range(args.repeat):
        for case in CASES:
            row = run_case(args.model, args.n_ctx, case)
            rows.append(row)
            print(
                f"run {i + 1} {case:5s} n_ctx {row['n_ctx']:,}: RSS loaded "
                f"{row['rss_loaded'] / MIB:7.1f} MiB, after an answer "
                f"{row['rss_answered'] / MIB:7.1f} MiB, peak {row['peak_rss'] / MIB:7.1f} MiB"
            )
    n_ctx = rows[0]["n_ctx"]
    kv = {case: n_ctx * (kv_bytes_per_token(meta, case, case) or 0) for case in CASES}
    rss = {c: median(r["rss_answered"] for r in rows if r["cache_type"] == c) for c in CASES}
    peak = {c: median(r["peak_rss"] for r in rows if r["cache_type"] == c) for c in CASES}
    saved = rss["f16"] - rss["q8_0"]
    share = saved / kv["f16"] if kv["f16"] else float("nan")
    print(
        f"\n{args.model.name} at n_ctx {n_ctx:,}: f16 KV cache {kv['f16'] / MIB:.1f} MiB, "
        f"q8_0 {kv['q8_0'] / MIB:.1f} MiB (estimate, = llama.cpp's own figure)"
    )
    print(
        f"median RSS after an answer: f16 {rss['f16'] / MIB:.1f} MiB, q8_0 "
        f"{rss['q8_0'] / MIB:.1f} MiB; saved {saved / MIB:.1f} MiB = {share:.0%} of the f16 "
        f"KV cache (target >= {TARGET_SHARE:.0%}: {verdict(share, TARGET_SHARE, False)}); "
        f"peak RSS f16 {peak['f16'] / MIB:.1f} MiB, q8_0 {peak['q8_0'] / MIB:.1f} MiB"
    )
    save(
        "kv_cache_memory",
        {
            "machine": info,
            "model": str(args.model),
            "n_ctx": n_ctx,
            "kv_cache_bytes": kv,
            "median_rss_answered": rss,
            "median_peak_rss": peak,
            "saved_bytes": saved,
            "saved_share_of_f16_kv": share,
            "target_share": TARGET_SHARE,
            "runs": rows,
        },
    )
    return 0 if share >= TARGET_SHARE else 1


if __name__ == "__main__":
    sys.exit(main())
