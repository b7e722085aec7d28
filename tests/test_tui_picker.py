"""The model picker, driven headlessly: local models, errors, and the (loopback) Hub."""

from __future__ import annotations

import shutil

from textual.widgets import DataTable

from tests.support.fake_hub import LADDER_REPO
from tests.support.models import tiny_gguf
from tests.support.tui import make_app, notifications, screen_text, wait_until

pytest_plugins = ["tests.conftest_hub"]


def picker_open(app) -> bool:
    return app.screen.__class__.__name__ == "ModelPicker"


def local_rows(app) -> list[str]:
    table = app.screen.query_one("#local-table", DataTable)
    return [
        str(table.get_row_at(i)[0]) + " " + str(table.get_row_at(i)[1])
        for i in range(table.row_count)
    ]


async def test_filter_pick_and_load_a_local_model(ladder, broken, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for quant in ("Q8_0", "Q4_K_M", "IQ4_NL"):
        shutil.copy(ladder[quant], models)
    shutil.copy(broken["truncated"], models)
    app = make_app(tmp_path / "data", extra_model_dirs=[str(models)])
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: picker_open(app), what="the picker at start")
        await wait_until(
            pilot, lambda: len(local_rows(app)) == 4 and "broken" in screen_text(app), what="scan"
        )
        for ch in "q4_k":
            await pilot.press(ch)
        await wait_until(pilot, lambda: len(local_rows(app)) == 1)
        assert "Q4_K_M" in local_rows(app)[0]
        await pilot.press("enter")
        await wait_until(pilot, lambda: not picker_open(app), 60, "the model to load")
        assert app.engine.info.quant == "Q4_K_M"
        assert "Q4_K_M" in screen_text(app)  # the status line


async def test_sorting_by_size_and_quant(ladder, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for quant in ("Q8_0", "Q3_K_S", "Q5_K_M"):
        shutil.copy(ladder[quant], models)
    app = make_app(tmp_path / "data", extra_model_dirs=[str(models)])
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: picker_open(app) and len(local_rows(app)) == 3)
        await pilot.press("ctrl+s")  # name -> size
        assert [r.split()[-1] for r in local_rows(app)] == ["Q3_K_S", "Q5_K_M", "Q8_0"]
        await wait_until(pilot, lambda: "sorted by size" in screen_text(app))
        await pilot.press("ctrl+s")  # size -> quant (bits per weight)
        assert [r.split()[-1] for r in local_rows(app)] == ["Q3_K_S", "Q5_K_M", "Q8_0"]
        await wait_until(pilot, lambda: "sorted by quant" in screen_text(app))


async def test_a_rescan_keeps_the_highlighted_model(ladder, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for quant in ("Q8_0", "Q3_K_S", "Q5_K_M"):
        shutil.copy(ladder[quant], models)
    app = make_app(tmp_path / "data", extra_model_dirs=[str(models)])
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: picker_open(app) and len(local_rows(app)) == 3)
        await pilot.press("down")
        table = app.screen.query_one("#local-table", DataTable)
        assert local_rows(app)[table.cursor_row].endswith("Q5_K_M")
        shutil.copy(ladder["Q4_K_M"], models)  # sorts before it
        app.screen.scan("rescanned")
        await wait_until(pilot, lambda: len(local_rows(app)) == 4, what="the rescan")
        assert local_rows(app)[table.cursor_row].endswith("Q5_K_M")
        assert "Q5_K_M.gguf" in screen_text(app)  # its detail line


async def test_a_model_that_cannot_load_says_why_and_the_picker_stays(broken, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    tiny_gguf(models / "nonsense-Q8_0.gguf", **{"general.name": "nonsense"})
    shutil.copy(broken["truncated"], models)
    app = make_app(tmp_path / "data", extra_model_dirs=[str(models)])
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: picker_open(app) and len(local_rows(app)) == 2)
        await pilot.press("enter")  # the tiny file: a valid header llama.cpp cannot load
        await wait_until(pilot, lambda: "Could not load" in screen_text(app), 60)
        assert picker_open(app) and app.engine.info is None
        await pilot.press("down")
        await pilot.press("enter")  # the truncated file is refused before loading
        await wait_until(pilot, lambda: "is truncated" in screen_text(app))
        assert picker_open(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not picker_open(app))


async def test_starter_models_are_offered_when_nothing_is_on_disk(tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: picker_open(app) and "Llama 3.2 1B" in screen_text(app))
        text = screen_text(app)
        assert "SmolLM2 360M" in text and "Qwen2.5 0.5B" in text
        assert "No models on disk yet" in text


async def test_hub_search_list_download_and_load(fake_hub, tmp_path):
    app = make_app(tmp_path / "data")
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: picker_open(app))
        await pilot.press("ctrl+g")
        search = app.screen.query_one("#hub-search")
        search.value = "SmolLM2"
        await pilot.press("enter")
        repos = app.screen.query_one("#hub-repos", DataTable)
        await wait_until(pilot, lambda: LADDER_REPO in screen_text(app), what="search results")
        repos.move_cursor(
            row=[str(repos.get_row_at(i)[0]) for i in range(repos.row_count)].index(LADDER_REPO)
        )
        await pilot.press("enter")
        quants = app.screen.query_one("#hub-quants", DataTable)
        await wait_until(
            pilot,
            lambda: quants.row_count == 6 and "good default" in screen_text(app),
            what="the quantizations",
        )
        assert "Q8_0" in screen_text(app)
        names = [str(quants.get_row_at(i)[0]) for i in range(quants.row_count)]
        quants.move_cursor(row=names.index("Q4_K_M"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: not picker_open(app), 120, "download and load")
        assert app.engine.info is not None and app.engine.info.quant == "Q4_K_M"
        assert "downloaded" in notifications(app)
        task = app.models.current_download
        assert task.done_bytes == task.total_bytes > 100_000_000


async def test_ctrl_o_opens_the_picker_from_the_chat(engine, tmp_path):
    app = make_app(tmp_path / "data", engine=engine)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: picker_open(app))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not picker_open(app))
        assert app.engine.info is not None  # closing the picker keeps the model
