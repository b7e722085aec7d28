"""Measure a model the way the seed tutorial's CPU/GPU table does, comparably.

Each model runs in a fresh subprocess (`bench_worker`), for three reasons:
- peak memory: the kernel's high-water mark (VmHWM) only ever grows, so it is
  per model only in a process that loaded nothing else; sampling RSS from a
  thread would miss short peaks between samples and could not tell one
  model's allocator leftovers from the next one's;
- the caller's own model stays loaded (the TUI benchmarks beside a chat);
- a file that crashes llama.cpp ends one row, not the whole benchmark.

Every run sends a synthetic prompt of about `prompt_tokens` tokens (fresh words
each run, so nothing is reused from the KV cache) and generates exactly
`gen_tokens` tokens (`Sampling.ignore_eos`), with the app's default sampling
chain and a fixed seed. A short warm-up run comes first and is not counted.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from gguf_tui.engine.options import LoadOptions

METRICS = (
    "prompt_tokens_per_second",
    "generation_tokens_per_second",
    "ms_per_token",
    "seconds_per_100_tokens",
    "time_to_first_token",
)


@dataclass(frozen=True, slots=True)
class BenchConfig:
    prompt_tokens: int = 512
    gen_tokens: int = 128
    repeat: int = 3
    n_gpu_layers: int = 0
    n_threads: int | None = None  # None = llama.cpp's choice
    n_ctx: int | None = None  # None = just enough for the prompt and the answer
    chat_format: str | None = None
    seed: int = 1234
    warmup: bool = True
    # How each model loads (llama.cpp's -ctk, -ctv, -fa, -b, -ub, --no-mmap, --mlock).
    cache_type_k: str = "f16"
    cache_type_v: str = "f16"
    flash_attn: str = "auto"
    n_batch: int = 512
    n_ubatch: int = 512
    use_mmap: bool = True
    use_mlock: bool = False

    def __post_init__(self) -> None:
        if self.prompt_tokens < 1 or self.gen_tokens < 2 or self.repeat < 1:
            raise ValueError("prompt_tokens >= 1, gen_tokens >= 2 and repeat >= 1 are needed")

    @property
    def context_size(self) -> int:
        """A multiple of 256 (what llama-cpp-python accepts) with room for both."""
        if self.n_ctx:
            return self.n_ctx
        needed = self.prompt_tokens + self.gen_tokens + 64  # template and rounding slack
        return -(-needed // 256) * 256

    def load_options(self) -> LoadOptions:
        """What the worker loads each model with."""
        return LoadOptions(
            n_ctx=self.context_size,
            n_gpu_layers=self.n_gpu_layers,
            n_threads=self.n_threads,
            chat_format=self.chat_format,
            n_batch=self.n_batch,
            n_ubatch=self.n_ubatch,
            flash_attn=self.flash_attn,
            cache_type_k=self.cache_type_k,
            cache_type_v=self.cache_type_v,
            use_mmap=self.use_mmap,
            use_mlock=self.use_mlock,
        )

    @property
    def load_flags(self) -> str:
        """The load options as llama.cpp's flags, for the table's legend."""
        flags = [
            f"-ctk {self.cache_type_k}",
            f"-ctv {self.cache_type_v}",
            f"-fa {self.flash_attn}",
            f"-b {self.n_batch}",
            f"-ub {self.n_ubatch}",
        ]
        flags += ["--no-mmap"] if not self.use_mmap else []
        flags += ["--mlock"] if self.use_mlock else []
        return " ".join(flags)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BenchConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of repeated runs and how far they strayed (min and max)."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        vals = sorted(values)
        if not vals:
            return cls(0.0, 0.0, 0.0)
        return cls(statistics.median(vals), vals[0], vals[-1])


@dataclass(slots=True)
class BenchResult:
    """One model's row: figures per run, and how it loaded."""

    path: str
    name: str = ""
    quant: str = ""
    size_bytes: int = 0
    n_ctx: int = 0
    n_threads: int = 0
    gpu_layers: int = 0
    cache_type_k: str = ""  # the KV cache as loaded ("" = did not load)
    cache_type_v: str = ""
    flash_attn: str = ""  # "on" or "off": what llama.cpp settled on (auto resolves)
    notes: list[str] = field(default_factory=list)  # what the load said (a choice made)
    load_seconds: float = 0.0
    rss_before_load: int = 0  # bytes resident before the model was read
    peak_rss: int = 0  # the worker process's high-water mark (VmHWM)
    runs: list[dict] = field(default_factory=list)  # GenerationStats.to_dict() per run
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.runs)

    @property
    def label(self) -> str:
        """The quantization (from the file name when it did not load), else the name."""
        from gguf_tui.models.quant import quant_from_filename

        name = Path(self.path).name
        return self.quant or quant_from_filename(name) or name

    @property
    def kv_flash(self) -> str:
        """The table's cell: `q8_0 on` (K and V alike) or `q8_0/q4_0 off`."""
        k, v = self.cache_type_k, self.cache_type_v
        return f"{k if k == v else f'{k}/{v}'} {self.flash_attn}".strip()

    @property
    def model_memory(self) -> int:
        """What loading and running the model added to the process (peak - before)."""
        return max(0, self.peak_rss - self.rss_before_load)

    def spread(self, metric: str) -> Spread:
        return Spread.of(float(run.get(metric, 0.0)) for run in self.runs)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["model_memory"] = self.model_memory
        data["summary"] = {m: asdict(self.spread(m)) for m in METRICS} if self.runs else {}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> BenchResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class Target:
    """One row to measure: a model file, or why there is none to measure."""

    spec: str  # what the user named, or the file a folder held
    path: Path | None
    error: str | None = None


def folder_targets(folder: Path, cache_file: Path | None = None) -> list[Target]:
    """Every model in a folder; broken and incomplete ones as rows that say why."""
    from gguf_tui.models.catalog import scan

    found = scan([folder], hf_cache=None, cache_file=cache_file)
    if not found:
        return [Target(str(folder), None, f"no .gguf files in {folder}")]
    targets = []
    for m in found:
        if m.incomplete:
            targets.append(
                Target(str(m.path), None, f"incomplete: missing {', '.join(m.missing_shards)}")
            )
        else:
            targets.append(Target(str(m.path), None if m.error else m.path, m.error))
    return targets


def sibling_targets(path: Path, cache_file: Path | None = None) -> list[Target]:
    """The usable quantizations of the model at `path` in its folder, itself included,
    the most bits per weight first; just `path` when the folder holds no siblings."""
    from gguf_tui.models.catalog import scan, siblings_of

    found = scan([path.parent], hf_cache=None, cache_file=cache_file)
    real = os.path.realpath(path)
    me = next((m for m in found if os.path.realpath(m.path) == real), None)
    family = siblings_of(me, found) if me is not None else []
    return [Target(str(m.path), m.path) for m in reversed(family)] or [Target(str(path), path)]


def read_memory() -> tuple[int, int]:
    """(resident now, resident high-water mark) of this process, in bytes."""
    try:
        values = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
        return values["VmRSS"], values["VmHWM"]
    except (OSError, KeyError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak *= 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
        return peak, peak


def system_info() -> dict[str, str | int | bool]:
    """The machine a figure was measured on: without it a figure means little."""
    from importlib.metadata import PackageNotFoundError, version

    import llama_cpp

    cpu = platform.processor() or platform.machine()
    memory = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass

    def dist(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {
        "cpu": cpu,
        "cpus": os.cpu_count() or 0,
        "memory_bytes": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "llama_cpp_python": llama_cpp.__version__,
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "textual": dist("textual"),
        "gguf_tui": dist("gguf-tui"),
    }


def format_spread(spread: Spread, digits: int, repeated: bool = True) -> str:
    """`752` or, over several runs, `752 (740–761)`: the median, then min–max."""
    median = f"{spread.median:.{digits}f}"
    if not repeated:
        return median
    return f"{median} ({spread.low:.{digits}f}–{spread.high:.{digits}f})"


def format_deviation(spread: Spread, digits: int, repeated: bool = True) -> str:
    """`46.4 ±1%`: the median, then how far the furthest run strayed from it (compact,
    for tables that must fit a terminal); just the median for a single run."""
    median = f"{spread.median:.{digits}f}"
    if not repeated or spread.median <= 0:
        return median
    pct = max(spread.high - spread.median, spread.median - spread.low) / spread.median * 100
    return f"{median} ±{pct:.1f}%" if pct < 1 else f"{median} ±{pct:.0f}%"


@dataclass(frozen=True, slots=True)
class Progress:
    """Where the worker is within one model: loading, warming up, or run `run` of `of`."""

    stage: str  # "loading", "warm-up", "run"
    run: int = 0  # 1-based, for "run"
    of: int = 0
    last_tokens_per_second: float | None = None  # generation speed of the run before

    @classmethod
    def from_dict(cls, data: dict) -> Progress:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# -- the parent's side ---------------------------------------------------------------------
OnResult = Callable[[BenchResult], None]
OnProgress = Callable[[Path, Progress], None]


def run_benchmark(
    paths: Iterable[str | Path],
    config: BenchConfig,
    on_result: OnResult | None = None,
    on_start: Callable[[Path], None] | None = None,
    cancel: threading.Event | None = None,
    on_progress: OnProgress | None = None,
) -> list[BenchResult]:
    """Measure each model in turn, each in its own process; a failure is that row's
    `error` and the others still run. Stops early (without a row) when `cancel` is set.
    `on_progress` hears, from the caller's thread, each stage of each model's runs."""
    results = []
    for path in paths:
        if cancel is not None and cancel.is_set():
            break
        if on_start is not None:
            on_start(Path(path))
        result = measure(Path(path), config, cancel, on_progress)
        if cancel is not None and cancel.is_set():
            break
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def measure(
    path: Path,
    config: BenchConfig,
    cancel: threading.Event | None = None,
    on_progress: OnProgress | None = None,
) -> BenchResult:
    """One model in a fresh `python -m gguf_tui.engine.bench_worker` process.

    The worker appends one JSON line per stage to a progress file, read here while
    waiting for it (so `on_progress` runs in the caller's thread)."""
    with tempfile.TemporaryDirectory(prefix="gguf-tui-bench-") as tmp:
        out, log = Path(tmp) / "result.json", Path(tmp) / "log.txt"
        progress = _ProgressFile(Path(tmp) / "progress.jsonl", path, on_progress)
        cmd = [
            sys.executable,
            "-m",
            "gguf_tui.engine.bench_worker",
            str(path),
            json.dumps(config.to_dict()),
            str(out),
            str(progress.file),
        ]
        with log.open("wb") as log_fh:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=log_fh, env=_child_env()
            )
            try:
                while True:
                    try:
                        proc.wait(timeout=0.1)
                        break
                    except subprocess.TimeoutExpired:
                        if cancel is not None and cancel.is_set():
                            _end(proc)
                            return BenchResult(str(path), error="cancelled")
                        progress.poll()
            except BaseException:  # Ctrl+C in the caller: no worker is left behind
                _end(proc)
                raise
        if out.exists():
            return BenchResult.from_dict(json.loads(out.read_text()))
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-3:]
        why = f"the benchmark process died (exit status {proc.returncode})"
        return BenchResult(str(path), error=f"{why}: {' | '.join(tail)}" if tail else why)


class _ProgressFile:
    """The worker's progress lines, handed on as they complete."""

    def __init__(self, file: Path, path: Path, on_progress: OnProgress | None) -> None:
        self.file, self.path, self.on_progress = file, path, on_progress
        self.offset = 0

    def poll(self) -> None:
        if self.on_progress is None:
            return
        try:
            with self.file.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            try:
                step = Progress.from_dict(json.loads(line))
            except (ValueError, TypeError):
                continue
            self.on_progress(self.path, step)


def _end(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _child_env() -> dict[str, str]:
    """The worker must import this very gguf_tui, even when it is not installed."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env
