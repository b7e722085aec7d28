"""`gguf-tui bench` and the measuring module behind it, on real models.

These tests check behaviour (fields, counts, rows, errors), never speed: the
figures themselves are what benchmarks/ and docs/performance.md are for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gguf_tui.engine import LENGTH, STOP, Sampling
from gguf_tui.engine.bench import BenchConfig, BenchResult, Spread, format_spread, run_benchmark
from gguf_tui.engine.bench_worker import synthetic_messages
from tests.support.cli import gguf_tui

TINY = ["--prompt-tokens", "40", "--gen-tokens", "6"]


# -- the engine option the benchmark needs ------------------------------------------------
def test_ignore_eos_generates_exactly_max_tokens(engine):
    ask = [{"role": "user", "content": "Reply with the single word: yes"}]
    natural = engine.chat(ask, Sampling(temperature=0, seed=1, max_tokens=60)).result(60)
    assert natural.reason == STOP and natural.stats.generated_tokens < 60
    forced = engine.chat(
        ask, Sampling(temperature=0, seed=1, max_tokens=60, ignore_eos=True, stop=("yes",))
    ).result(60)
    assert forced.reason == LENGTH
    assert forced.stats.generated_tokens == 60
    assert len(forced.text) > len(natural.text)


def test_synthetic_prompt_is_about_the_asked_size_and_differs_per_run(engine):
    counts = []
    for n in (40, 200):
        messages = synthetic_messages(engine, n, run=0)
        counts.append(engine.count_tokens(messages).result(30))
        assert n - 6 <= counts[-1] <= n
    assert synthetic_messages(engine, 100, 1) != synthetic_messages(engine, 100, 2)
    assert synthetic_messages(engine, 100, 1) == synthetic_messages(engine, 100, 1)


# -- pieces ----------------------------------------------------------------------------------
def test_spread_and_its_text():
    s = Spread.of([3.0, 1.0, 2.0, 10.0])
    assert (s.median, s.low, s.high) == (2.5, 1.0, 10.0)
    assert format_spread(s, 1) == "2.5 (1.0–10.0)"
    assert format_spread(s, 0, repeated=False) == "2"
    assert Spread.of([]) == Spread(0.0, 0.0, 0.0)


def test_config_refuses_nonsense_and_sizes_the_context():
    with pytest.raises(ValueError):
        BenchConfig(gen_tokens=1)
    assert BenchConfig(prompt_tokens=512, gen_tokens=128).context_size == 768
    assert BenchConfig(n_ctx=4096).context_size == 4096
    assert BenchConfig.from_dict(BenchConfig(repeat=5).to_dict() | {"extra": 1}).repeat == 5


def test_result_round_trips_through_json():
    r = BenchResult("x.gguf", quant="Q8_0", peak_rss=300, rss_before_load=100)
    r.runs = [{"generation_tokens_per_second": 5.0, "prompt_tokens_per_second": 9.0}]
    data = json.loads(json.dumps(r.to_dict()))
    assert data["model_memory"] == 200
    back = BenchResult.from_dict(data)
    assert back.spread("generation_tokens_per_second").median == 5.0 and back.ok


def test_cancel_ends_the_benchmark_without_a_row(ladder):
    import threading

    cancel = threading.Event()
    cancel.set()
    assert run_benchmark([ladder["Q8_0"]], BenchConfig(), cancel=cancel) == []


# -- the command -----------------------------------------------------------------------------
def test_bench_two_quantizations_json(ladder):
    out = gguf_tui("bench", ladder["Q8_0"], ladder["Q4_K_M"], *TINY, "--repeat", "2", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["config"]["repeat"] == 2 and data["config"]["gen_tokens"] == 6
    assert data["system"]["cpus"] >= 1 and data["system"]["llama_cpp_python"]
    assert [r["quant"] for r in data["results"]] == ["Q8_0", "Q4_K_M"]
    for r in data["results"]:
        assert r["error"] is None
        assert len(r["runs"]) == 2
        assert all(run["generated_tokens"] == 6 for run in r["runs"])
        assert all(34 <= run["prompt_tokens"] <= 40 for run in r["runs"])
        assert r["load_seconds"] > 0 and r["size_bytes"] > 50_000_000
        assert r["peak_rss"] > r["model_memory"] > 50_000_000
        for metric in ("prompt_tokens_per_second", "generation_tokens_per_second"):
            s = r["summary"][metric]
            assert s["median"] > 0
            assert s["low"] <= s["median"] <= s["high"]
        for metric in ("ms_per_token", "seconds_per_100_tokens", "time_to_first_token"):
            assert r["summary"][metric]["median"] > 0
    assert "[1/2]" in out.stderr and "[2/2]" in out.stderr


def test_bench_a_folder_means_every_model_in_it(ladder, broken, tmp_path):
    folder = tmp_path / "quants"
    folder.mkdir()
    for quant in ("Q6_K", "IQ4_NL"):
        (folder / ladder[quant].name).symlink_to(ladder[quant])
    (folder / "wrong-magic.gguf").symlink_to(broken["wrong_magic"])
    out = gguf_tui("bench", folder, *TINY, "--repeat", "1", "--json")
    assert out.returncode == 1, out.stderr  # one row failed
    rows = {Path(r["path"]).name: r for r in json.loads(out.stdout)["results"]}
    assert set(rows) == {ladder["Q6_K"].name, ladder["IQ4_NL"].name, "wrong-magic.gguf"}
    assert rows[ladder["Q6_K"].name]["error"] is None
    assert rows[ladder["IQ4_NL"].name]["summary"]["generation_tokens_per_second"]["median"] > 0
    assert "not a GGUF" in rows["wrong-magic.gguf"]["error"]


def test_a_broken_file_is_a_row_error_and_the_others_still_run(ladder, broken, tmp_path):
    missing = tmp_path / "missing.gguf"
    out = gguf_tui("bench", broken["truncated"], missing, ladder["Q3_K_S"], *TINY, "--repeat", "1")
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0].startswith("MODEL") and "GEN tok/s" in lines[0] and "PEAK RSS" in lines[0]
    (ok,) = [ln for ln in lines if "Q3_K_S" in ln]
    assert "error" not in ok and " MB" in ok
    (trunc,) = [ln for ln in lines if broken["truncated"].name in ln]
    assert "error:" in trunc and "truncated" in trunc
    (gone,) = [ln for ln in lines if "missing.gguf" in ln]
    assert "error: model file not found" in gone


def test_bench_refuses_a_one_token_answer(ladder):
    out = gguf_tui("bench", ladder["Q8_0"], "--gen-tokens", "1")
    assert out.returncode == 2 and "gen_tokens >= 2" in out.stderr
