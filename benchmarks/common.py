"""What every benchmark script shares: medians, ratios, the machine, the JSON file.

Every script compares against a reference measured in the same run (the machine
is shared and noisy), quotes medians, and writes its figures to benchmarks/results/
(gitignored) with the machine they ran on.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
from collections.abc import Iterable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def median(values: Iterable[float]) -> float:
    vals = list(values)
    return statistics.median(vals) if vals else float("nan")


def percentile(values: Iterable[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 40 presses is the 38th smallest)."""
    vals = sorted(values)
    if not vals:
        return float("nan")
    rank = max(1, min(len(vals), round(pct / 100 * len(vals) + 0.5)))
    return vals[rank - 1]


def spread(values: Iterable[float]) -> dict[str, float]:
    vals = sorted(values)
    return {
        "median": median(vals),
        "min": vals[0] if vals else float("nan"),
        "max": vals[-1] if vals else float("nan"),
        "n": len(vals),
    }


def machine() -> dict:
    from gguf_tui.engine.bench import system_info

    info = system_info()
    info["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return info


def machine_line(info: dict) -> str:
    gib = info["memory_bytes"] / 2**30
    return (
        f"{info['date']} · {info['cpu']} · {info['cpus']} CPUs · {gib:.0f} GiB · "
        f"Python {info['python']} · llama-cpp-python {info['llama_cpp_python']} · "
        f"Textual {info['textual']}"
    )


def save(name: str, data: dict) -> Path:
    """benchmarks/results/NAME-YYYYmmdd-HHMMSS.json, and the path on stderr."""
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{name}-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = RESULTS / f"{name}-{stamp}-{n}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    print(f"\nwrote {path.relative_to(ROOT)}", file=sys.stderr)
    return path


def verdict(value: float, target: float, lower_is_better: bool = True) -> str:
    ok = value <= target if lower_is_better else value >= target
    return "meets the target" if ok else "MISSES the target"
