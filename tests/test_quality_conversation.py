"""The core run behind the chat's "Score this conversation" action (the terminal test
in tests/terminal/test_quality_chat.py drives it from the app)."""

from __future__ import annotations

import threading

import pytest

from gguf_tui.quality import conversation as cq
from gguf_tui.quality.scorer import Cancelled, QualityError
from gguf_tui.store.records import Message

PROSE = (
    "The river bends twice before it reaches the town, and each bend has a mill. "
    "The millers argue every spring about who may open the sluice first. "
)


def chat(n: int) -> list[Message]:
    out = []
    for i in range(n):
        out.append(Message(2 * i, 1, "user", f"Tell me about the mills, part {i}."))
        out.append(Message(2 * i + 1, 1, "assistant", PROSE * 3))
    return out


def test_the_chunk_size_fits_the_conversation():
    assert cq.chunk_size_for("x" * 10_000) == 512
    assert cq.chunk_size_for("x" * 1_000) == 128
    assert cq.chunk_size_for("x" * 10) == 64


def test_a_quant_is_scored_against_its_highest_sibling_and_kept(ladder, tmp_path):
    seen = []
    result = cq.score_conversation(
        ladder["Q3_K_S"], chat(6), 1, tmp_path, threading.Event(), seen.append
    )
    assert result.reference.quant == "Q8_0"
    assert result.row.kld_mean > 0 and 0 < result.row.top1_agreement < 100
    assert result.row.tokens > 0
    assert any(p.reference for p in seen) and any(not p.reference for p in seen)
    kept = cq.kept_score(tmp_path, ladder["Q3_K_S"], 1)
    assert kept is not None and kept.kld_mean == pytest.approx(result.row.kld_mean)
    line = cq.describe(kept)
    assert line.startswith("Quality on this conversation: Q3_K_S KLD ")
    assert "same top token vs Q8_0" in line
    assert cq.kept_score(tmp_path, ladder["Q3_K_S"], 2) is None  # another conversation


def test_the_highest_quant_has_nothing_to_be_scored_against(ladder, tmp_path):
    with pytest.raises(QualityError, match="highest-precision quantization on disk"):
        cq.score_conversation(ladder["Q8_0"], chat(3), 1, tmp_path, threading.Event())


def test_a_short_conversation_is_one_message(ladder, tmp_path):
    short = [Message(1, 1, "user", "Hi."), Message(2, 1, "assistant", "Hello!")]
    with pytest.raises(QualityError, match="too short to score"):
        cq.score_conversation(ladder["Q4_K_M"], short, 1, tmp_path, threading.Event())
    assert cq.kept_score(tmp_path, ladder["Q4_K_M"], 1) is None


def test_cancel_stops_between_chunks_and_keeps_nothing(ladder, tmp_path):
    cancel = threading.Event()

    def progress(p):
        if p.stage == "scoring":
            cancel.set()  # as escape would, once the first chunk is done

    with pytest.raises(Cancelled):
        cq.score_conversation(ladder["Q4_K_M"], chat(6), 1, tmp_path, cancel, progress)
    assert cq.kept_score(tmp_path, ladder["Q4_K_M"], 1) is None
    assert not list((tmp_path / "tmp").glob("*.logits"))  # the reference's logits are gone
