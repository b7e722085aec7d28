"""Snapshots of the main screens (pytest-textual-snapshot, the Textual convention): a layout
change shows as a failing test with a side-by-side picture in the report.

Everything on screen is fixed: a scripted engine (no model), a seeded conversation whose
times are pinned, a fixed list of models, nothing in flight (no spinner, no clock). After
a deliberate change of layout, look at the report and accept it with
`python -m pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gguf_tui.engine import GenerationStats
from gguf_tui.models.catalog import Catalog, ModelFile
from gguf_tui.store.database import Store
from tests.support.fake_engine import FakeEngine
from tests.support.tui import make_app, wait_until

SIZES = [(80, 24), (120, 40)]
# Noon UTC on a day long ago: the same date in every time zone from -11 to +11, and old
# enough that the sidebar shows the date, not "5 min ago".
PINNED = 1_710_244_800.0  # 2024-03-12 12:00 UTC
ANSWER_STATS = GenerationStats(
    prompt_tokens=24,
    prompt_tokens_evaluated=24,
    generated_tokens=42,
    prompt_seconds=0.2,
    generation_seconds=1.05,
    time_to_first_token=0.21,
    total_seconds=1.26,
).to_dict()


def size_id(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def seed(data_dir: Path) -> int:
    """Two conversations, the newest with an answer that shows its provenance and a code block."""
    store = Store(data_dir / "conversations.sqlite3")
    older = store.create_conversation("Quantization basics")
    store.add_message(older.id, "user", "What does Q4_K_M mean?")
    conv = store.create_conversation(model_file="Fake-1B-Instruct-Q4_K_M.gguf", quant="Q4_K_M")
    store.add_message(conv.id, "user", "Write a Python function that adds two numbers.")
    store.add_message(
        conv.id,
        "assistant",
        "Here it is:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nCall `add(2, 3)`.",
        model_file="Fake-1B-Instruct-Q4_K_M.gguf",
        quant="Q4_K_M",
        stats=ANSWER_STATS,
        finish_reason="stop",
    )
    store.close()
    with sqlite3.connect(data_dir / "conversations.sqlite3") as db:
        # The newest stays first: one minute apart, both long ago.
        db.execute(
            "UPDATE conversations SET created_at = ?, updated_at = ? + id * 60", (PINNED,) * 2
        )
        db.execute("UPDATE messages SET created_at = ? + id", (PINNED,))
    return conv.id


def model(name: str, quant: str, size: int, bits: float) -> ModelFile:
    return ModelFile(
        path=Path("/models") / f"{name}-{quant}.gguf",
        display_name=name,
        architecture="llama",
        size_label="1B",
        n_params=1_000_000_000,
        quant=quant,
        bits_per_weight=bits,
        file_size=size,
        n_shards=1,
        context_length=8192,
        has_chat_template=True,
        mtime=PINNED,
        family=name,
        model_name=name,
    )


MODELS = [
    model("Fake-1B-Instruct", "Q4_K_M", 700_000_000, 4.85),
    model("Fake-1B-Instruct", "Q8_0", 1_100_000_000, 8.5),
    model("Other-3B-Chat", "Q5_K_M", 2_300_000_000, 5.69),
]


@pytest.fixture
def app(tmp_path, monkeypatch):
    app = make_app(tmp_path, engine=FakeEngine(), open_conversation=seed(tmp_path))
    monkeypatch.setattr(app.models, "scan", lambda cancelled=None: Catalog(MODELS, []))
    return app


async def settled(pilot, screen: str) -> None:
    """The screen is up and its workers (scans, the conversation's pages) are done."""
    app = pilot.app
    await wait_until(pilot, lambda: type(app.screen).__name__ == screen, what=screen)
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_chat_screen(snap_compare, app, size):
    async def ready(pilot) -> None:
        await settled(pilot, "ChatScreen")
        view = app.chat_screen.view
        await wait_until(pilot, lambda: len(view.message_widgets) == 2, what="the conversation")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_model_picker(snap_compare, app, size):
    async def ready(pilot) -> None:
        await settled(pilot, "ChatScreen")
        await pilot.press("ctrl+o")
        await settled(pilot, "ModelPicker")

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_help_screen(snap_compare, app, size):
    async def ready(pilot) -> None:
        await settled(pilot, "ChatScreen")
        await pilot.press("f1")
        await settled(pilot, "HelpScreen")

    assert snap_compare(app, terminal_size=size, run_before=ready)
