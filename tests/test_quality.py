"""`gguf-tui quality`: the arithmetic, the reference choice, and real runs on the ladder."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import ROOT, gguf_tui
from tests.support.measured import run_measured

FAST = ("--ctx", "128", "--chunks", "2")
KEYS = {
    "model",
    "quant",
    "reference",
    "tokens",
    "kld_mean",
    "kld_p99",
    "top1_agreement",
    "ppl",
    "ppl_reference",
    "seconds",
}


# -- the arithmetic, without a model -----------------------------------------------------------
def _reference(tmp_path: Path, logits: np.ndarray, targets: np.ndarray):
    from gguf_tui.quality.metrics import ReferenceFile

    ref = ReferenceFile(tmp_path / "ref.logits", logits.shape[1])
    ref.add(logits, targets)
    ref.finish()
    return ref


def test_kld_against_itself_is_exactly_zero_and_top1_is_full(tmp_path):
    from gguf_tui.quality.metrics import Comparison

    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((7, 1000)) * 4).astype(np.float32)
    targets = rng.integers(0, 1000, 7)
    ref = _reference(tmp_path, logits, targets)
    cmp = Comparison()
    cmp.add(logits, targets, ref)
    fig = cmp.figures(ref.nll_all())
    assert fig["kld_mean"] == 0.0 and fig["kld_p99"] == 0.0
    assert fig["top1_agreement"] == 100.0
    assert fig["ppl"] == fig["ppl_reference"]
    ref.close()
    assert not (tmp_path / "ref.logits").exists()


def test_kld_matches_the_definition_and_grows_with_the_difference(tmp_path):
    from gguf_tui.quality.metrics import Comparison

    rng = np.random.default_rng(2)
    base = (rng.standard_normal((5, 300)) * 3).astype(np.float32)
    targets = rng.integers(0, 300, 5)
    found = []
    for noise in (0.1, 0.5, 2.0):
        other = (base + rng.standard_normal(base.shape) * noise).astype(np.float32)
        ref = _reference(tmp_path, base, targets)
        cmp = Comparison()
        cmp.add(other, targets, ref)
        fig = cmp.figures(ref.nll_all())
        ref.close()
        p = np.exp(base.astype(np.float64))
        p /= p.sum(1, keepdims=True)
        q = np.exp(other.astype(np.float64))
        q /= q.sum(1, keepdims=True)
        expected = (p * np.log(p / q)).sum(1).mean()
        assert fig["kld_mean"] == pytest.approx(expected, rel=1e-9)
        nll = -np.log(q[np.arange(5), targets])
        assert fig["ppl"] == pytest.approx(math.exp(nll.mean()), rel=1e-9)
        found.append(fig["kld_mean"])
    assert 0 < found[0] < found[1] < found[2]


def test_rows_are_worked_through_in_bounded_blocks(tmp_path, monkeypatch):
    """A block smaller than the rows gives the same figures as one block for all."""
    from gguf_tui.quality import metrics

    rng = np.random.default_rng(3)
    base = rng.standard_normal((9, 64)).astype(np.float32)
    other = (base + rng.standard_normal(base.shape)).astype(np.float32)
    targets = rng.integers(0, 64, 9)

    def figures():
        ref = _reference(tmp_path, base, targets)
        cmp = metrics.Comparison()
        cmp.add(other, targets, ref)
        out = cmp.figures(ref.nll_all())
        ref.close()
        return out

    whole = figures()
    monkeypatch.setattr(metrics, "BLOCK_BYTES", 2 * 64 * 8)  # two rows a block
    assert metrics.block_rows(64) == 2
    assert figures() == pytest.approx(whole, rel=1e-12)


def test_percentile_is_llama_perplexitys():
    from gguf_tui.quality.metrics import percentile

    values = np.arange(101, dtype=np.float64)
    assert percentile(values, 0.99) == pytest.approx(99.0)
    assert percentile(np.array([0.0, 1.0]), 0.99) == pytest.approx(0.99)
    assert math.isnan(percentile(np.zeros(0), 0.99))


# -- the reference --------------------------------------------------------------------------
def test_the_reference_is_the_highest_precision_sibling(tmp_path):
    from gguf_tui.quality.reference import NoReference, choose_reference

    for q in ("Q4_K_M", "Q8_0", "Q6_K", "BF16"):
        (tmp_path / f"Model-7B-{q}.gguf").write_bytes(b"GGUF")
    (tmp_path / "Other-1B-F32.gguf").write_bytes(b"GGUF")  # another model: not a sibling
    ref = choose_reference([tmp_path / "Model-7B-Q4_K_M.gguf"])
    assert ref.path.name == "Model-7B-BF16.gguf" and ref.quant == "BF16"
    assert "highest-precision sibling of 4" in ref.why
    with pytest.raises(NoReference, match="--reference"):
        choose_reference([tmp_path / "Model-7B-Q4_K_M.gguf", tmp_path / "Other-1B-F32.gguf"])
    with pytest.raises(NoReference, match="not a file"):
        choose_reference([tmp_path / "Model-7B-Q4_K_M.gguf"], tmp_path / "missing.gguf")


def test_the_sample_text_ships_with_the_package():
    from gguf_tui.quality.texts import sample_text

    text = sample_text().text
    assert len(text) > 10_000 and "def " in text and "The Lighthouse" in text


def test_results_are_kept_by_file_identity(tmp_path):
    from gguf_tui.quality import results
    from gguf_tui.quality.scorer import ModelScore
    from gguf_tui.quality.texts import ScoreText

    model, ref = tmp_path / "M-Q4_K_M.gguf", tmp_path / "M-Q8_0.gguf"
    model.write_bytes(b"a")
    ref.write_bytes(b"b")
    row = ModelScore("M-Q4_K_M.gguf", "Q4_K_M", "Q8_0", tokens=10, kld_mean=0.0213)
    row.top1_agreement, row.ppl, row.ppl_reference, row.path = 97.14, 9.0, 8.5, str(model)
    row.kld_p99 = 0.2
    record = results.record_for(row, ScoreText("some text", "a file"), 512, ref)
    results.save(tmp_path / "data", [record])
    found = results.lookup(tmp_path / "data", model)
    assert found is not None and found.kld_mean == pytest.approx(0.0213)
    assert results.label(found) == "KLD 0.021 · 97.1 % same top token vs Q8_0"
    assert results.quality_text(tmp_path / "data", model, "Q4_K_M") == (results.label(found), True)
    model.write_bytes(b"another download")  # a new file: what was measured no longer holds
    assert results.lookup(tmp_path / "data", model) is None
    assert results.quality_text(tmp_path / "data", model, "Q4_K_M") == ("good default", False)
    (tmp_path / "data" / "quality.json").write_text("{broken")
    assert results.load(tmp_path / "data") == []


# -- real runs on the test ladder -----------------------------------------------------------
@pytest.fixture(scope="module")
def ladder_run(ladder, tmp_path_factory):
    data = tmp_path_factory.mktemp("quality-data")
    models = [ladder[q] for q in ("Q6_K", "Q3_K_S", "Q8_0", "Q4_K_M")]
    r = gguf_tui("quality", *models, *FAST, "--json", "--data-dir", data, timeout=600)
    return r, data


def test_quality_ordering_holds_on_the_ladder(ladder_run):
    r, _ = ladder_run
    assert r.returncode == 0, r.stderr
    rows = {row["quant"]: row for row in json.loads(r.stdout)}
    assert all(set(row) >= KEYS for row in rows.values())
    assert "reference: SmolLM2-135M-Instruct-Q8_0.gguf (Q8_0, the highest-precision" in r.stderr
    assert rows["Q8_0"]["kld_mean"] == 0.0 and rows["Q8_0"]["top1_agreement"] == 100.0
    for q in ("Q6_K", "Q4_K_M", "Q3_K_S"):
        assert rows[q]["kld_mean"] > 0, q
        assert rows[q]["reference"] == "Q8_0" and rows[q]["tokens"] == 2 * (128 - 1 - 64)
    assert rows["Q3_K_S"]["kld_mean"] > rows["Q4_K_M"]["kld_mean"] > rows["Q6_K"]["kld_mean"]
    assert rows["Q3_K_S"]["top1_agreement"] < rows["Q6_K"]["top1_agreement"]
    assert rows["Q3_K_S"]["kld_p99"] >= rows["Q3_K_S"]["kld_mean"]
    assert rows["Q8_0"]["ppl"] == rows["Q8_0"]["ppl_reference"]


def test_the_results_are_kept_for_the_switcher(ladder_run, ladder):
    from gguf_tui.quality import results

    _, data = ladder_run
    found = results.lookup(data, ladder["Q6_K"])
    assert found is not None and found.reference_quant == "Q8_0" and found.ctx == 128
    assert not list((data / "tmp").iterdir()), "the reference's logits file was left behind"


def test_a_text_shorter_than_one_chunk_is_one_message(ladder, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Only a few words here.")
    r = gguf_tui("quality", ladder["Q4_K_M"], "--text", short, "--ctx", "128", timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("gguf-tui: error: the text is ")
    assert "shorter than one chunk of --ctx 128" in r.stderr and "Traceback" not in r.stderr


def test_a_missing_reference_is_one_message(ladder, tmp_path):
    r = gguf_tui("quality", ladder["Q4_K_M"], "--reference", tmp_path / "nope.gguf")
    assert r.returncode == 2
    assert (
        r.stderr.strip() == f"gguf-tui: error: the reference {tmp_path / 'nope.gguf'} is not a file"
    )


def test_a_reference_with_another_vocabulary_is_a_clear_row(ladder, gemma_path, tmp_path):
    r = gguf_tui(
        "quality", ladder["Q4_K_M"], "--reference", gemma_path, *FAST, "--json", timeout=600
    )
    assert r.returncode == 1, r.stderr
    (row,) = json.loads(r.stdout)
    assert "another vocabulary than the reference" in row["error"]
    assert "Traceback" not in r.stderr


def test_memory_does_not_grow_with_tokens_times_vocabulary(ladder):
    """Six chunks keep 6 x 255 x 49,152 x 4 bytes (300 MiB) of the reference's logits:
    on disk, so the peak is the same as for one chunk (within the block buffers)."""
    from gguf_tui.quality.metrics import working_bytes

    args = ("quality", ladder["Q6_K"], "--ctx", "512", "--json")
    one = run_measured(*args, "--chunks", "1", timeout=600)
    six = run_measured(*args, "--chunks", "6", timeout=600)
    assert one.rc == 0 and six.rc == 0, six.stderr
    assert json.loads(six.stdout)[0]["tokens"] == 6 * 255
    bound = working_bytes(49152) / 2**20  # the stated bound of the arithmetic
    assert six.peak_mib - one.peak_mib < 32, (one.peak_mib, six.peak_mib)
    assert six.peak_mib < 400 + bound, six.peak_mib  # two 140 MiB models, one at a time


def test_ctrl_c_stops_cleanly(ladder, tmp_path):
    data = tmp_path / "data"
    slow = ["--ctx", "512", "--data-dir", str(data)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gguf_tui", "quality", ladder["Q6_K"], ladder["Q3_K_S"], *slow],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
    )
    seen = []
    deadline = time.monotonic() + 300
    assert proc.stderr is not None
    for line in proc.stderr:  # wait for the scoring to be under way, not for a time
        seen.append(line)
        if "chunks" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)
    err = "".join(seen) + rest[1]
    assert proc.returncode == 130, err
    assert "gguf-tui: stopped (Ctrl+C): nothing was saved" in err and "Traceback" not in err
    assert not (data / "quality.json").exists()
    assert not list((data / "tmp").iterdir())


def test_a_saved_conversation_is_scored_on_its_own_text(ladder, tmp_path):
    from gguf_tui.quality.texts import sample_text
    from gguf_tui.store.database import Store

    data = tmp_path / "data"
    data.mkdir()
    paragraphs = sample_text().text.split("\n\n")
    with Store(data / "conversations.sqlite3") as store:
        conv = store.create_conversation("talk").id
        for i, text in enumerate(paragraphs[:12]):
            store.add_message(conv, "user" if i % 2 == 0 else "assistant", text)
    args = ("quality", ladder["Q6_K"], "--conversation", conv, "--data-dir", data)
    r = gguf_tui(*args, *FAST, "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"text: conversation {conv}" in r.stderr
    (row,) = json.loads(r.stdout)
    assert row["tokens"] > 0 and row["kld_mean"] > 0
    missing = gguf_tui("quality", ladder["Q6_K"], "--conversation", 999, "--data-dir", data)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "gguf-tui: error: no conversation with ID 999 (gguf-tui export --list)"
    )
