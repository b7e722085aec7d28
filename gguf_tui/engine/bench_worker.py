"""The benchmark's worker process: load one model, time the runs, write JSON.

usage: python -m gguf_tui.engine.bench_worker MODEL CONFIG_JSON OUT_FILE [PROGRESS_FILE]
(bench.measure starts it; see bench.py for why every model gets its own process).
PROGRESS_FILE gets one JSON line (a bench.Progress) as each stage starts.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

from gguf_tui.engine.bench import BenchConfig, BenchResult, Progress, read_memory
from gguf_tui.engine.events import Failed, Finished
from gguf_tui.engine.local.engine import Engine
from gguf_tui.engine.model_info import EngineError
from gguf_tui.engine.options import Sampling

_VOCABULARY = (
    "river stone garden winter market letter window silver engine forest bridge candle "
    "harbor orange planet thunder violin meadow copper lantern island mirror pepper signal "
    "tunnel velvet wander yellow basket canyon dragon feather glacier hammer jungle kettle "
    "ladder marble needle oyster pillow quartz ribbon saddle timber umbrella valley walnut"
)
_WORDS = _VOCABULARY.split()
_ASK = "Summarise: "
_SYSTEM = "{run}."  # differs from the first token on


def synthetic_messages(engine: Engine, n_tokens: int, run: int) -> list[dict[str, str]]:
    """A conversation whose whole prompt (template included) is about `n_tokens` tokens.

    `run` changes it from the system prompt's first token on (a template's default
    system prompt would otherwise be a shared prefix), so no run reuses another's
    KV cache beyond the template's first few tokens. The template itself sets the
    floor (about 20 tokens for ChatML): a smaller `n_tokens` gets just that.
    """
    system = {"role": "system", "content": _SYSTEM.format(run=run)}

    def text(n_words: int) -> str:
        rng = random.Random(run)  # longer texts extend shorter ones
        words = [rng.choice(_WORDS) for _ in range(n_words)]
        return _ASK + " ".join(words) + "."

    def count(n_words: int) -> int:
        return engine.count_tokens([system, {"role": "user", "content": text(n_words)}]).result()

    lo, hi = 0, max(1, n_tokens)
    while lo < hi:  # the most words that stay within n_tokens (a word is >= 1 token)
        mid = (lo + hi + 1) // 2
        if count(mid) <= n_tokens:
            lo = mid
        else:
            hi = mid - 1
    return [system, {"role": "user", "content": text(lo)}]


def _reporter(progress_file: str | None):
    """Appends each stage to `progress_file` (flushed at once), or does nothing."""

    def report(step: Progress) -> None:
        if not progress_file:
            return
        data = {k: v for k, v in asdict(step).items() if v is not None}
        try:
            with open(progress_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(data) + "\n")
        except OSError:
            pass  # progress is a courtesy; the measurement goes on

    return report


def measure_here(path: Path, config: BenchConfig, progress_file: str | None = None) -> BenchResult:
    """Measure `path` in this process (call it in a fresh one: see bench.py)."""
    report = _reporter(progress_file)
    result = BenchResult(str(path))
    options = config.load_options()
    import llama_cpp  # noqa: F401  (its libraries count as before-load memory)

    result.rss_before_load, _ = read_memory()
    report(Progress("loading"))
    with Engine() as engine:
        try:
            info = engine.load(path, options).result()
        except EngineError as exc:
            result.error = str(exc)
            return result
        result.name, result.quant, result.size_bytes = info.name, info.quant, info.size_bytes
        result.n_ctx, result.n_threads = info.n_ctx, info.n_threads
        result.gpu_layers = info.gpu_layers
        result.cache_type_k, result.cache_type_v = info.kv_types
        result.flash_attn = "on" if info.flash_attn else "off"
        result.notes = list(info.notes)
        result.load_seconds = round(info.load_seconds, 4)
        sampling = Sampling(max_tokens=config.gen_tokens, seed=config.seed, ignore_eos=True)
        if config.warmup:
            report(Progress("warm-up"))
            warm = synthetic_messages(engine, min(32, config.prompt_tokens), -1)
            engine.chat(warm, Sampling(max_tokens=4, seed=config.seed, ignore_eos=True)).result()
        last: float | None = None
        for run in range(config.repeat):
            report(Progress("run", run + 1, config.repeat, last))
            messages = synthetic_messages(engine, config.prompt_tokens, run)
            outcome = engine.chat(messages, sampling).result()
            if isinstance(outcome, Failed):
                result.error = outcome.message
                break
            assert isinstance(outcome, Finished)
            stats = outcome.stats
            per_100 = {"seconds_per_100_tokens": round(stats.seconds_per_100_tokens, 3)}
            result.runs.append(stats.to_dict() | per_100)
            last = round(stats.generation_tokens_per_second, 2)
    _, result.peak_rss = read_memory()
    return result


def main(argv: list[str]) -> int:
    path, config_json, out = argv[:3]
    progress_file = argv[3] if len(argv) > 3 else None
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    started = time.perf_counter()
    config = BenchConfig.from_dict(json.loads(config_json))
    result = measure_here(Path(path), config, progress_file)
    logging.getLogger(__name__).info("measured in %.1fs", time.perf_counter() - started)
    tmp = Path(out).with_suffix(".partial")
    tmp.write_text(json.dumps(result.to_dict()))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
