"""`gguf-tui quality` against llama.cpp's own `llama-perplexity --kl-divergence`.

    python -m benchmarks.quality_vs_llama_perplexity [--ctx 512] [--chunks K] [--sdist FILE]

Builds `llama-perplexity` from the llama.cpp vendored in the llama-cpp-python sdist of
the installed version (`vendor/llama.cpp/tools/perplexity`; the sdist from --sdist, else
`pip download llama-cpp-python==VERSION --no-deps --no-binary :all:`), once, into
~/.cache/gguf-tui-bench (only the perplexity target, -j2). Then, on the shipped sample
text, the same context and the test ladder (Q8_0 as the reference):

- llama.cpp: `--kl-divergence-base` on the reference, `--kl-divergence` on each model;
- ours: `gguf-tui quality MODEL --reference Q8_0 --json` right after each llama.cpp run
  (interleaved, so each speed pair shares the machine's mood), and Q8_0 against itself;

and prints both side by side with the bar (PPL within 1 %, mean KLD within 5 %
relative, top-1 agreement within 1 point) and the scoring speed of each (tokens
decoded per second of scoring; llama.cpp's is wall time after its load). Peak RSS of
each process from wait4. `--no-repack` where the app skips repacking (engine/cpu_quirks.py), and
`-fa off`: the app loads models without flash attention, and llama.cpp's default (auto)
turns it on, which moves the logits enough to flip a near-tie top token now and then.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from benchmarks import common

CACHE = Path(os.environ.get("GGUF_TUI_BENCH_CACHE", "~/.cache/gguf-tui-bench")).expanduser()


def _run(
    cmd: list[str], log: Path | None = None, merge: bool = True
) -> tuple[int, float, int, str]:
    """(rc, wall seconds, peak RSS bytes of this child alone (wait4), stdout)."""
    started = time.perf_counter()
    err = subprocess.STDOUT if merge else None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log is not None:
        log.write_text(out)
    return proc.returncode, time.perf_counter() - started, usage.ru_maxrss * 1024, out


def sdist(version: str, given: str | None) -> Path:
    if given:
        return Path(given)
    target = CACHE / f"llama_cpp_python-{version}.tar.gz"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"llama-cpp-python=={version}",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    return target


def build(version: str, archive: Path) -> Path:
    binary = CACHE / f"build-{version}" / "bin" / "llama-perplexity"
    if binary.exists():
        return binary
    src = CACHE / f"llama_cpp_python-{version}"
    if not src.exists():
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    llama = src / "vendor" / "llama.cpp"
    build_dir = CACHE / f"build-{version}"
    flags = ["-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF"]
    flags += ["-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_OPENSSL=OFF"]
    subprocess.run(["cmake", "-S", str(llama), "-B", str(build_dir), *flags], check=True)
    subprocess.run(
        ["cmake", "--build", str(build_dir), "--target", "llama-perplexity", "-j2"], check=True
    )
    return binary


_FIGURES = {
    "ppl": r"Mean PPL\(Q\)\s*:\s*([\d.]+)",
    "ppl_reference": r"Mean PPL\(base\)\s*:\s*([\d.]+)",
    "kld_mean": r"Mean\s+KLD:\s*([\d.]+)",
    "kld_p99": r"99\.0%\s+KLD:\s*([\d.]+)",
    "top1_agreement": r"Same top p:\s*([\d.]+)",
    "first_pass_seconds": r"([\d.]+) seconds per pass",
}
_STAMP = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+) I .*computing over (\d+) chunks", re.M)


def parse(out: str, ctx: int) -> dict:
    data = {}
    for key, pattern in _FIGURES.items():
        m = re.search(pattern, out)
        data[key] = float(m.group(1)) if m else float("nan")
    m = _STAMP.search(out)
    if m:
        minutes, seconds, ms, us = (int(g) for g in m.groups()[:4])
        data["load_seconds"] = minutes * 60 + seconds + ms / 1e3 + us / 1e6
        data["chunks"] = int(m.group(5))
    return data


def main(argv: list[str] | None = None) -> int:
    import llama_cpp

    from gguf_tui.quality.texts import sample_text
    from tests.support import models

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int)
    ap.add_argument("--sdist", metavar="FILE")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)

    version = llama_cpp.__version__
    binary = build(version, sdist(version, args.sdist))
    ladder = models.ladder()
    reference = ladder["Q8_0"]
    quants = [q for q in models.LADDER if q != "Q8_0"]
    work = Path(tempfile.mkdtemp(prefix="quality-bench-"))
    text_file = work / "sample.txt"
    text_file.write_text(sample_text().text, encoding="utf-8")
    base = work / "base.kld"
    common_args = ["-c", str(args.ctx), "-b", str(args.ctx), "-t", str(args.threads)]
    common_args += ["-fa", "off"]  # as the app loads models (flash_attn off)
    from llama_cpp import llama_cpp as lib

    from gguf_tui.engine.local import cpu_quirks

    if not cpu_quirks.repack_is_safe(lib.llama_print_system_info().decode("utf-8", "replace")):
        common_args += ["--no-repack"]  # the app loads without repacking here too
    if args.chunks:
        common_args += ["--chunks", str(args.chunks)]

    theirs: dict[str, dict] = {}
    base_args = ["--kl-divergence-base", str(base)]
    rc, wall, _, out = _run(
        [str(binary), "-m", str(reference), "-f", str(text_file), *common_args, *base_args],
        work / "base.log",
    )
    if rc != 0:
        print(out[-3000:])
        return 1
    ours: dict[str, dict] = {}
    ours_peak = 0

    def run_ours(quant: str) -> dict:
        nonlocal ours_peak
        cmd = [sys.executable, "-m", "gguf_tui", "quality", str(ladder[quant])]
        cmd += ["--reference", str(reference), "--ctx", str(args.ctx)]
        cmd += ["--threads", str(args.threads), "--json", "--data-dir", str(work / "data")]
        if args.chunks:
            cmd += ["--chunks", str(args.chunks)]
        rc, _, peak, out = _run(cmd, merge=False)
        if rc != 0:
            raise SystemExit(f"gguf-tui quality {quant} failed ({rc})")
        ours_peak = max(ours_peak, peak)
        return json.loads(out)[0]

    # Interleaved (theirs, ours, theirs, ours …): the machine is shared and noisy, so each
    # speed pair is measured back to back, not minutes apart.
    for quant in quants:
        print(f"llama-perplexity {quant} …", file=sys.stderr, flush=True)
        cmd = [str(binary), "-m", str(ladder[quant]), *common_args]
        cmd += ["--kl-divergence-base", str(base), "--kl-divergence"]
        rc, wall, peak, out = _run(cmd, work / f"{quant}.log")
        row = parse(out, args.ctx)
        row["wall"] = wall
        row["peak_rss"] = peak
        scored = wall - row.get("load_seconds", 0.0)
        row["tokens_per_second"] = row.get("chunks", 0) * args.ctx / scored if scored else 0
        row["first_pass_tokens_per_second"] = args.ctx / row["first_pass_seconds"]
        theirs[quant] = row
        print(f"gguf-tui quality {quant} …", file=sys.stderr, flush=True)
        ours[quant] = run_ours(quant)
    ours["Q8_0"] = run_ours("Q8_0")
    ours_wall = sum(r["seconds"] for r in ours.values())

    print(common.machine_line(common.machine()))
    print(f"SmolLM2-135M ladder vs Q8_0, sample text, ctx {args.ctx}, {args.threads} threads\n")
    head = f"{'quant':<8} {'PPL ours':>9} {'llama':>9} {'Δ%':>6}  {'KLD ours':>9} {'llama':>9}"
    head += f" {'Δ%':>6}  {'top1 ours':>9} {'llama':>7} {'Δpt':>5}"
    head += f"  {'tok/s ours':>10} {'llama':>7} {'1st':>6}"
    print(head)
    ok = True
    rows = []
    for quant in quants:
        a, b = ours[quant], theirs[quant]
        d_ppl = 100 * (a["ppl"] - b["ppl"]) / b["ppl"]
        d_kld = 100 * (a["kld_mean"] - b["kld_mean"]) / b["kld_mean"]
        d_top = a["top1_agreement"] - b["top1_agreement"]
        good = abs(d_ppl) <= 1 and abs(d_kld) <= 5 and abs(d_top) <= 1
        ok &= good
        print(
            f"{quant:<8} {a['ppl']:>9.3f} {b['ppl']:>9.3f} {d_ppl:>+6.2f}  "
            f"{a['kld_mean']:>9.5f} {b['kld_mean']:>9.5f} {d_kld:>+6.2f}  "
            f"{a['top1_agreement']:>9.2f} {b['top1_agreement']:>7.2f} {d_top:>+5.2f}  "
            f"{a['tokens_per_second']:>10.1f} {b['tokens_per_second']:>7.1f} "
            f"{b['first_pass_tokens_per_second']:>6.1f}" + ("" if good else "  <- outside the bar")
        )
        rows.append({"quant": quant, "ours": a, "llama_perplexity": b, "within_bar": good})
    self_row = ours.get("Q8_0", {})
    print(
        f"\nQ8_0 against itself (ours): KLD {self_row.get('kld_mean')}, "
        f"top-1 {self_row.get('top1_agreement')} %"
    )
    speed = [
        r["ours"]["tokens_per_second"] / r["llama_perplexity"]["tokens_per_second"]
        for r in rows
        if r["llama_perplexity"]["tokens_per_second"]
    ]
    print(f"scoring speed, ours / llama-perplexity: median {common.median(speed):.2f}x")
    theirs_peak = max(r["peak_rss"] for r in theirs.values())
    print(
        f"peak RSS: ours {ours_peak / 2**20:.0f} MiB (its largest run: reference, then the model), "
        f"llama-perplexity {theirs_peak / 2**20:.0f} MiB (the most of its runs)"
    )
    print("bar (PPL 1 %, KLD 5 %, top-1 1 point):", "met" if ok else "NOT met")
    path = common.save(
        "quality_vs_llama_perplexity",
        {
            "ctx": args.ctx,
            "threads": args.threads,
            "rows": rows,
            "self": self_row,
            "ours_peak_rss": ours_peak,
            "ours_wall": ours_wall,
        },
    )
    print(f"figures: {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
