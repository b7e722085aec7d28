"""The benchmark screen, headless: real models measured in worker processes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import DataTable, Input

from gguf_tui.engine.bench import BenchConfig, Target, sibling_targets
from gguf_tui.tui.screens.bench import COLUMNS, BenchScreen
from gguf_tui.tui.widgets.bar_chart import FULL, BarChart, bar, chart_lines
from tests.support.fake_engine import FakeEngine, fake_info
from tests.support.tui import make_app, screen_text, wait_until

TINY = BenchConfig(prompt_tokens=40, gen_tokens=4, repeat=1)


def test_bars_use_eighth_blocks_and_scale_to_the_largest():
    assert bar(10, 10, 4) == FULL * 4
    assert bar(5, 10, 4) == FULL * 2
    assert bar(1, 16, 2) == "▏"  # one eighth of one cell
    assert bar(0, 10, 4) == "" and bar(3, 0, 4) == ""
    lines = chart_lines([("Q8_0", 50.0), ("Q4_K_M", 100.0), ("bad", None)], width=30)
    assert all(len(line) == 30 for line in lines)
    assert lines[1].count(FULL) > lines[0].count(FULL) > 0
    assert lines[2].endswith("-") and FULL not in lines[2]


def test_siblings_of_a_ladder_file_are_every_quantization_biggest_first(ladder, tmp_path):
    targets = sibling_targets(ladder["Q4_K_M"], tmp_path / "scan.json")
    names = [Path(t.spec).name for t in targets]
    assert len(names) == len(ladder) and names[0].endswith("Q8_0.gguf")
    assert names[-1].endswith("Q3_K_S.gguf")
    lone = tmp_path / "lone.gguf"
    lone.symlink_to(ladder["Q8_0"])
    assert sibling_targets(lone, tmp_path / "scan.json") == [Target(str(lone), lone)]


async def test_screen_measures_rows_and_draws_bars(ladder, broken, tmp_path):
    targets = [
        Target(str(ladder["Q8_0"]), ladder["Q8_0"]),
        Target(str(ladder["Q3_K_S"]), ladder["Q3_K_S"]),
        Target(str(broken["truncated"]), broken["truncated"]),
    ]
    engine = FakeEngine()
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(150, 50)) as pilot:
        screen = BenchScreen(targets, config=TINY)
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.finished, 120, "the benchmark")
        table = screen.query_one(DataTable)
        assert table.row_count == 3
        ok = [r for r in screen.results if r.ok]
        assert [r.quant for r in ok] == ["Q8_0", "Q3_K_S"]
        gen = screen.query_one("#chart-gen", BarChart)
        assert [label for label, _ in gen.bars] == ["Q8_0", "Q3_K_S", screen.results[2].label]
        await pilot.pause()
        seen = screen_text(app)
        assert FULL in seen and "Generation tok/s" in seen and "Prompt tok/s" in seen
        assert "truncated" in seen  # above the table, whatever its width
        assert str(table.get_row_at(2)[-1]).startswith("error:")
        assert "done: 3 model(s)" in seen and "1 failed" in seen
        assert engine.info is not None  # the chat's model was never touched
        await pilot.press("escape")
        assert not isinstance(app.screen, BenchScreen)


async def test_palette_entry_benchmarks_the_loaded_models_siblings(ladder, tmp_path):
    engine = FakeEngine()
    engine.info = dataclasses.replace(fake_info(), path=ladder["Q4_K_M"])
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(150, 50)) as pilot:
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Benchmark quantizations" in commands
        (entry,) = [c for c in app.get_system_commands(app.screen) if c.title.startswith("Bench")]
        entry.callback()
        await wait_until(pilot, lambda: isinstance(app.screen, BenchScreen), 10, "the screen")
        screen = app.screen
        assert screen.around == ladder["Q4_K_M"]
        await wait_until(pilot, lambda: "measuring" in screen_text(app), 60, "a measurement")
        assert f"(1/{len(ladder)})" in screen_text(app)
        await pilot.press("escape")  # cancels: the worker process is ended
        await wait_until(pilot, screen.worker_done.is_set, 15, "the worker to end")
        assert screen.results == []


async def test_without_a_model_the_palette_asks_for_a_folder(ladder, tmp_path):
    engine = FakeEngine()
    engine.info = None
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(150, 50)) as pilot:
        from gguf_tui.tui.screens.bench import open_bench

        await pilot.pause()
        while len(app.screen_stack) > 2:  # the model picker the app opens without a model
            app.pop_screen()
            await pilot.pause()
        open_bench(app)
        await pilot.pause()
        answer = app.screen.query_one(Input)
        answer.value = str(ladder["Q8_0"].parent)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BenchScreen), 10, "the screen")
        assert app.screen.folder == ladder["Q8_0"].parent
        await pilot.press("escape")


def test_a_chart_row_without_a_figure_says_why_in_its_own_words():
    lines = chart_lines([("Q8_0", 100.0), ("Q4_K_M", None)], 40, 1, "not scored", " %")
    assert lines[0].endswith("100.0 %") and FULL in lines[0]
    assert lines[1].endswith("not scored") and FULL not in lines[1]
    assert all(len(line) == 40 for line in lines)
    half = chart_lines([("Q4_K_M", 50.0)], 40, 1, unit=" %", scale=100.0)[0]
    full = chart_lines([("Q4_K_M", 50.0)], 40, 1, unit=" %")[0]
    assert 0 < half.count(FULL) < full.count(FULL)  # a percentage is drawn out of 100


def _kept(path: Path, reference: Path, kld: float, top: float):
    from gguf_tui.quality.results import QualityRecord, identity

    real, size, mtime = identity(path)
    return QualityRecord(
        model=real,
        size=size,
        mtime_ns=mtime,
        quant=path.stem.rsplit("-", 1)[-1],
        reference=str(reference),
        reference_quant="Q8_0",
        text="the sample text",
        text_digest="0" * 16,
        ctx=128,
        tokens=126,
        kld_mean=kld,
        kld_p99=kld * 4,
        top1_agreement=top,
        ppl=20.0,
        ppl_reference=19.0,
        seconds=1.0,
        measured_at=1.0,
    )


async def test_kept_quality_is_shown_beside_speed_and_memory(ladder, broken, tmp_path):
    from gguf_tui.quality import results

    q8, q3 = ladder["Q8_0"], ladder["Q3_K_S"]
    results.save(tmp_path, [_kept(q8, q8, 0.0, 100.0), _kept(q3, q8, 0.4321, 61.5)])
    targets = [Target(str(p), p) for p in (q8, ladder["Q6_K"], q3)]
    targets.append(Target(str(broken["truncated"]), broken["truncated"]))
    app = make_app(tmp_path, engine=FakeEngine())
    async with app.run_test(size=(150, 60)) as pilot:
        screen = BenchScreen(targets, config=TINY)
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.finished, 120, "the benchmark")
        top = screen.query_one("#chart-top", BarChart)
        assert top.title == "Same top token as Q8_0"
        assert [v for _, v in top.bars] == [100.0, None, 61.5, None]
        memory = screen.query_one("#chart-memory", BarChart)
        assert all(v and v > 50 for _, v in memory.bars[:3])  # MB: a model's process
        table = screen.query_one(DataTable)
        kld = [str(table.get_row_at(i)[COLUMNS.index("KLD")]) for i in range(4)]
        assert kld == ["0.0000", "not scored", "0.4321", "not scored"]
        await pilot.pause()
        seen = screen_text(app)
        assert "Same top token as Q8_0" in seen and "Peak memory, MB" in seen
        assert "61.5 %" in seen and "not scored" in seen
        assert "kept scores against Q8_0 on the sample text" in seen
        assert "2 not scored: gguf-tui bench --quality" in seen
