"""Resident memory across 20 quantization switches (target: within +10 % of after the first).

Each switch loads the other quantization of SmolLM2 (Q4_K_M <-> Q8_0) through the
real Engine and answers a short prompt, like a user comparing quantizations.
The reference is the resident set measured after the first switch, in this run.

    python -m benchmarks.switch_memory [--switches 20]
"""

from __future__ import annotations

import argparse
import gc
import sys

from benchmarks.common import machine, machine_line, save
from gguf_tui.engine import Engine, LoadOptions, Sampling
from tests.support.models import ladder

ASK = [{"role": "user", "content": "Name three rivers."}]


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=20)
    args = parser.parse_args()
    files = ladder(("Q4_K_M", "Q8_0"))
    order = [files["Q4_K_M"], files["Q8_0"]]
    info = machine()
    print(machine_line(info))
    samples: list[dict] = []
    with Engine() as engine:
        engine.load(order[1], LoadOptions(n_ctx=2048)).result(120)  # the starting model
        for i in range(args.switches):
            path = order[i % 2]
            engine.load(path, LoadOptions(n_ctx=2048)).result(120)
            engine.chat(ASK, Sampling(temperature=0, seed=1, max_tokens=16)).result(120)
            gc.collect()
            samples.append({"switch": i + 1, "quant": engine.info.quant, "rss": rss_bytes()})
            mib = samples[-1]["rss"] / 2**20
            print(f"switch {i + 1:2d} -> {engine.info.quant:7s} RSS {mib:7.1f} MiB")
    first = samples[0]["rss"]
    # Compare like with like: the same quantization as the first switch loaded.
    same = [s["rss"] for s in samples if s["quant"] == samples[0]["quant"]]
    growth_last = same[-1] / first - 1
    growth_max = max(s["rss"] for s in samples) / max(first, samples[1]["rss"]) - 1
    print(
        f"\nafter the first switch: {first / 2**20:.1f} MiB; after the last "
        f"{samples[0]['quant']} load: {same[-1] / 2**20:.1f} MiB ({growth_last:+.1%}); "
        f"largest over all switches vs the larger of the first two: {growth_max:+.1%}"
    )
    ok = growth_last <= 0.10
    print("target (within +10 %):", "met" if ok else "MISSED")
    save(
        "switch_memory",
        {
            "machine": info,
            "samples": samples,
            "growth_last": growth_last,
            "growth_max": growth_max,
            "target_met": ok,
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
