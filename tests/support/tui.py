"""Helpers for driving the app headlessly with Textual's Pilot."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from gguf_tui.config.settings import load_config, resolve_paths
from gguf_tui.engine import Sampling
from gguf_tui.store.database import Store
from gguf_tui.tui.app import GgufTuiApp

SYSTEM = "You are a helpful assistant."


def make_app(
    data_dir: Path,
    *,
    engine=None,
    model_path: Path | None = None,
    sampling: Sampling | None = None,
    **kwargs,
) -> GgufTuiApp:
    paths = resolve_paths(data_dir)
    return GgufTuiApp(
        paths=paths,
        config=load_config(paths.config_file),
        store=Store(paths.database),
        engine=engine,
        model_path=model_path,
        sampling=sampling or Sampling(temperature=0.0, seed=1, max_tokens=40),
        system_prompt=SYSTEM,
        **kwargs,
    )


async def wait_until(
    pilot, predicate: Callable[[], bool], seconds: float = 30.0, what: str = "condition"
) -> None:
    """Let the app run until `predicate()` holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await pilot.pause(0.02)


async def type_and_send(pilot, text: str) -> None:
    prompt = pilot.app.screen.query_one("#prompt")
    prompt.focus()
    prompt.text = text
    await pilot.press("enter")


async def wait_idle(pilot, seconds: float = 60.0) -> None:
    screen = pilot.app.chat_screen
    await wait_until(pilot, lambda: screen.reply is None, seconds, "the answer to finish")
    # The final full render of the answer is queued: let it reach the screen.
    for _ in range(3):
        await pilot.pause()


def screen_text(app: GgufTuiApp) -> str:
    """What the user sees, line by line (from the text of a screenshot)."""
    import re
    from html import unescape

    svg = app.export_screenshot()
    lines: dict[float, list[tuple[float, str]]] = {}
    for attrs, text in re.findall(r"<text([^>]*)>(.*?)</text>", svg, flags=re.S):
        x = re.search(r'\bx="([\d.]+)"', attrs)
        y = re.search(r'\by="([\d.]+)"', attrs)
        if x and y:
            lines.setdefault(float(y.group(1)), []).append((float(x.group(1)), text))
    rows = ["".join(t for _, t in sorted(parts)) for _, parts in sorted(lines.items())]
    return unescape("\n".join(rows)).replace("\xa0", " ")


def notifications(app: GgufTuiApp) -> str:
    """Every toast the app has shown (and not yet expired), one per line."""
    return "\n".join(str(n.message) for n in app._notifications)
