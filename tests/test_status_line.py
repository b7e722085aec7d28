"""The status line fits its width: model · quantization and the state always stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len

from gguf_tui.engine.model_info import ModelInfo
from gguf_tui.tui.state import LOADING, LoadState
from gguf_tui.tui.widgets.status import StatusLine

# A load 2.5 s in, as the app publishes it (the line once parsed this from its text).
A_LOAD = LoadState(LOADING, "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", 0.45, started=100.0)


def info(**changes) -> ModelInfo:
    values = dict(
        model_id="Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        path=Path("/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"),
        name="Meta-Llama-3.1-8B-Instruct",
        architecture="llama",
        quant="Q4_K_M",
        n_params=8_000_000_000,
        size_bytes=4_900_000_000,
        n_ctx=32768,
        n_ctx_train=131072,
        chat_format=None,
        n_layers=32,
        gpu_layers=20,
        gpu_supported=True,
        n_threads=8,
        load_seconds=1.0,
    )
    values.update(changes)
    return ModelInfo(**values)


def line(model, state="generating", speed=41.23, used=12_345, detail="", width=0) -> str:
    status = StatusLine(clock=lambda: 102.5)
    status.model = model
    if isinstance(state, LoadState):
        status.set_reactive(StatusLine.load, state)
    else:
        status.set_reactive(StatusLine.state, state)
    status.set_reactive(StatusLine.last_speed, speed)
    status.set_reactive(StatusLine.context_used, used)
    status.set_reactive(StatusLine.detail, detail)
    return status.fitted(width)


def test_with_room_everything_is_said():
    text = line(info(), width=200)
    assert text == (
        "Meta-Llama-3.1-8B-Instruct · Q4_K_M │ ctx 12,345/32,768 │ GPU 20/32 layers"
        " │ 41.2 tok/s │ generating"
    )


@pytest.mark.parametrize("width", range(24, 130))
@pytest.mark.parametrize(
    "state",
    [
        "idle",
        "generating",
        A_LOAD,
    ],
)
def test_every_width_keeps_the_quantization_and_the_state(width, state):
    text = line(
        info(), state=state, detail="Qwen3-8B Q4_K_M: 1.2 GB of 4.9 GB · 12 MB/s", width=width
    )
    assert cell_len(text) <= width, text
    assert "Q4_K_M" in text
    loading = isinstance(state, LoadState)
    assert ("loading" in text and "45%" in text) if loading else state in text


def test_the_model_name_is_shortened_last_and_never_the_quantization():
    text = line(info(), width=36)
    assert text.endswith("generating") and "· Q4_K_M" in text
    assert "…" in text


def test_no_model_points_to_the_picker():
    assert "ctrl+o" in line(None, speed=0, used=0, width=40)


def test_the_first_load_is_not_called_no_model_loaded():
    text = line(None, state=A_LOAD, speed=0, used=0, width=120)
    assert text == "loading Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf 45% · 2.5 s (escape cancels)"


def test_a_long_state_of_any_shape_is_cut_at_its_end_not_dropped():
    text = line(info(), state="reading the conversation into the model (escape cancels)", width=50)
    assert cell_len(text) <= 50 and "Q4_K_M" in text and "reading the" in text, text
