"""`gguf-tui quality` in a real terminal: a bar per model rewritten in place, Ctrl+C."""

from __future__ import annotations

import time

from tests.terminal.harness import ctrl, launched


def ended(term, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while term.proc.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not term.proc.isalive(), f"quality did not end:\n{term.text()}"
    term._reader.join(5)
    return term.proc.exitstatus


def test_a_bar_per_model_and_a_table_that_fits(home, ladder):
    for quant in ("Q8_0", "Q6_K", "Q3_K_S"):
        home.add_model(ladder[quant])
    q6, q3 = (home.models / ladder[q].name for q in ("Q6_K", "Q3_K_S"))
    with launched(home, "quality", q6, q3, "--ctx", "128", "--chunks", "3", cols=120) as term:
        term.wait_for("chunks", 120, "a model's progress bar")
        assert ended(term) == 0
        lines = term.text().splitlines()
    # what was in progress was rewritten in place: each model keeps only its last word
    assert not any("loading …" in ln or "chunks ·" in ln for ln in lines), "\n".join(lines)
    done = [ln for ln in lines if "same top token" in ln]
    assert len(done) == 2 and done[0].startswith("[1/2] Q6_K: KLD 0.")
    assert any(
        ln.startswith("gguf-tui: reference: SmolLM2-135M-Instruct-Q8_0.gguf") for ln in lines
    )
    header = next(i for i, ln in enumerate(lines) if ln.startswith("MODEL"))
    assert "KLD P99" in lines[header] and "SAME TOP" in lines[header]
    assert [ln.split()[1] for ln in lines[header + 1 : header + 3]] == ["Q6_K", "Q3_K_S"]


def test_ctrl_c_stops_and_restores_the_terminal(home, ladder):
    for quant in ("Q8_0", "Q6_K"):
        home.add_model(ladder[quant])
    with launched(home, "quality", home.models / ladder["Q6_K"].name, cols=120) as term:
        term.wait_for("chunks", 120, "the reference's progress bar")
        term.write(ctrl("c"))
        assert ended(term, 60) == 130
        text = term.text()
    assert "gguf-tui: stopped (Ctrl+C): nothing was saved" in text
    assert "Traceback" not in text
    assert not (home.data / "quality.json").exists()


def test_f3_shows_the_kl_divergence_quality_measured(home, ladder):
    """After `gguf-tui quality`, the quant switcher shows each scored file's KLD, and the
    usual guidance (dimmed) for the files never scored."""
    for quant in ("Q8_0", "Q6_K", "Q3_K_S"):
        home.add_model(ladder[quant])
    q6 = home.models / ladder["Q6_K"].name
    with launched(home, "quality", q6, "--ctx", "128", "--chunks", "1", cols=120) as term:
        assert ended(term) == 0
    with launched(home, q6, cols=120, rows=40) as term:
        term.wait_for(lambda s: "Q6_K" in s and "ctx 0/" in s, 120, "the model loaded")
        term.press("f3")
        screen = term.wait_for("KLD 0.", 60, "the measured KLD in the switcher")
        table = [ln for ln in screen.splitlines() if " MB " in ln]  # the rows, not the status
        rows = {q: ln for ln in table for q in ("Q6_K ", "Q3_K_S") if q in ln}
        assert "KLD 0." in rows["Q6_K "] and "on disk" in rows["Q6_K "], rows
        assert "low quality" in rows["Q3_K_S"], rows  # never scored: the guidance
        assert term.quit() == 0
