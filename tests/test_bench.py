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


# -- --quality: KLD, same top token and perplexity beside speed and memory -----------------
QUICK_QUALITY = ("--quality", "--ctx", "128", "--chunks", "2")


def test_bench_quality_scores_then_reuses_the_kept_scores(ladder, tmp_path):
    data = tmp_path / "data"
    models = [ladder[q] for q in ("Q8_0", "Q6_K", "Q3_K_S")]
    args = ("bench", *models, *TINY, "--repeat", "1", *QUICK_QUALITY, "--data-dir", data)
    first = gguf_tui(*args, "--within", "0.05", "--json", timeout=600)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["quality"]["reference_quant"] == "Q8_0"
    assert "highest-precision sibling" in report["quality"]["reference_why"]
    assert report["quality"]["ctx"] == 128 and report["quality"]["text"] == "the sample text"
    rows = {r["quant"]: r for r in report["results"]}
    for r in rows.values():  # speed and memory are still there, quality beside them
        assert r["summary"]["generation_tokens_per_second"]["median"] > 0 and r["peak_rss"] > 0
        assert r["quality_kept"] is False and r["quality_error"] is None
        assert r["quality_tokens"] == 2 * (128 - 1 - 64)
        assert r["reference"] == "Q8_0" and r["ppl"] > 1 and r["ppl_reference"] > 1
    assert rows["Q8_0"]["kld_mean"] == 0 and rows["Q8_0"]["top1_agreement"] == 100
    assert 0 < rows["Q6_K"]["kld_mean"] < rows["Q3_K_S"]["kld_mean"]
    assert rows["Q6_K"]["top1_agreement"] > rows["Q3_K_S"]["top1_agreement"]
    # --within: the smallest file whose KLD is within it (Q3_K_S is far off on any text)
    smallest = [q for q, r in rows.items() if r["smallest_within"]]
    assert smallest == ["Q6_K"], rows
    assert report["quality"]["smallest_within"] == str(ladder["Q6_K"])
    assert "[reference] Q8_0" in first.stderr and "same top token" in first.stderr
    assert (data / "quality.json").exists()

    # again: the same files, reference, text and chunks are kept, not scored again
    second = gguf_tui(*args, "--within", "0.05", timeout=600)
    assert second.returncode == 0, second.stderr
    assert second.stderr.count(": kept · KLD") == 3 and "[reference]" not in second.stderr
    lines = second.stdout.splitlines()
    head = lines[0].split()
    assert head[-4:] == ["KLD", "SAME", "TOP", "PPL"] and "GEN" in head and "PEAK" in head
    (q6,) = [ln for ln in lines if "Q6_K" in ln and "MB" in ln]
    assert q6.startswith("* Q6_K") and f"{rows['Q6_K']['kld_mean']:.4f}" in q6
    legend = " ".join(lines)
    assert "Kept from an earlier run, not scored again: Q8_0, Q6_K, Q3_K_S" in legend
    assert "* the smallest within KLD 0.05: Q6_K" in legend
    assert all(len(ln) <= 100 for ln in lines)

    # more chunks than kept: scored again (only what is not kept)
    more = gguf_tui(*args[:-2], "--chunks", "3", "--data-dir", data, "--json", timeout=600)
    assert more.returncode == 0, more.stderr
    assert ": kept" not in more.stderr
    assert {r["quality_tokens"] for r in json.loads(more.stdout)["results"]} == {3 * 63}


def test_bench_quality_without_a_reference_stops_before_measuring(ladder, tmp_path):
    out = gguf_tui(
        "bench", ladder["Q4_K_M"], *TINY, "--quality", "--reference", tmp_path / "nope.gguf"
    )
    assert out.returncode == 2
    assert "the reference" in out.stderr and "nope.gguf is not a file" in out.stderr
    assert "run 1/" not in out.stderr and "Traceback" not in out.stderr
    bad = gguf_tui("bench", ladder["Q4_K_M"], "--within", "-1")
    assert bad.returncode == 2 and "--within" in bad.stderr


def test_quality_cells_say_not_scored_and_the_table_fits_80_columns(ladder):
    import io

    from gguf_tui.commands.bench import print_table, table_rows
    from gguf_tui.commands.bench_quality import QualityFigures, QualityRun
    from gguf_tui.quality.texts import sample_text

    def result(quant: str, size: int) -> BenchResult:
        r = BenchResult(f"/m/Name-{quant}.gguf", name="Name", quant=quant, size_bytes=size)
        r.runs = [{"generation_tokens_per_second": 40.0, "prompt_tokens_per_second": 300.0}]
        return r

    results = [result("Q8_0", 300), result("Q4_K_M", 200), result("Q3_K_S", 150)]
    run = QualityRun(
        reference=Path("/m/Name-Q8_0.gguf"),
        reference_quant="Q8_0",
        why="given",
        text=sample_text(),
        ctx=128,
        chunks=None,
        within=0.1,
        rescore=False,
        n_threads=None,
        n_gpu_layers=0,
        models=[],
        scores={
            results[0].path: QualityFigures(0.0, 0.0, 100.0, 20.0, 20.0, 63),
            results[1].path: QualityFigures(0.05, 0.2, 90.0, 21.0, 20.0, 63, kept=True),
        },
    )
    rows = table_rows(results, False, run)
    assert rows[0][-3:] == ("KLD", "SAME TOP", "PPL")
    q4, q3 = rows[3], rows[4]
    assert q4[0] == "* Q4_K_M" and q4[-3:] == ("0.0500", "90.0 %", "21.00")
    assert q3[0] == "  Q3_K_S" and "not scored" in q3
    out = io.StringIO()
    dropped = print_table(results, False, out, width=80, quality=run)
    assert all(len(ln) <= 80 for ln in out.getvalue().splitlines())
    assert "KLD" in out.getvalue().splitlines()[0] and "GEN tok/s" in out.getvalue()
    assert "PPL" in dropped or "TTFT ms" in dropped
