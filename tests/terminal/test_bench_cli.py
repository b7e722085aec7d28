"""`gguf-tui bench` in a real terminal: progress rewritten in place, a table that fits,
quality beside speed (`--quality`), Ctrl+C."""

from __future__ import annotations

import time

import pytest

from tests.terminal.harness import ctrl

TINY = ("--prompt-tokens", "40", "--gen-tokens", "6", "--repeat", "2")


def ended(term, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while term.proc.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not term.proc.isalive(), f"bench did not end:\n{term.text()}"
    term._reader.join(5)
    return term.proc.exitstatus


@pytest.mark.parametrize("cols", [80, 120])
def test_bench_progress_stays_on_one_line_and_the_table_fits(home, ladder, cols):
    from tests.terminal.harness import launched

    for quant in ("Q8_0", "Q4_K_M"):
        home.add_model(ladder[quant])
    with launched(home, "bench", home.models, *TINY, cols=cols, rows=40) as term:
        term.wait_for("run 1/2", 120, "a run's progress")
        assert ended(term) == 0
        lines = term.text().splitlines()
    # what was in progress was rewritten in place: only each model's last word is left
    assert not any("run 1/2" in ln or "loading …" in ln for ln in lines), "\n".join(lines)
    assert sum("done ·" in ln for ln in lines) == 2
    header = next(i for i, ln in enumerate(lines) if ln.startswith("MODEL"))
    table = lines[header : header + 4]
    assert "GEN tok/s" in table[0] and "PEAK RSS" in table[0]
    assert [ln.split()[0] for ln in table[2:]] == ["Q4_K_M", "Q8_0"]
    assert all(len(ln) < cols for ln in table)  # pyte would have wrapped a wider line
    legend = " ".join(lines[header + 4 :])
    assert "PEAK RSS:" in legend
    if cols < 100:
        assert "Left out to fit 80 columns" in legend


def test_bench_quality_puts_kld_beside_speed_and_marks_the_smallest_within(home, ladder):
    from tests.terminal.harness import launched

    for quant in ("Q8_0", "Q6_K", "Q3_K_S"):
        home.add_model(ladder[quant])
    quality = ("--quality", "--ctx", "128", "--chunks", "2", "--within", "0.05")
    with launched(home, "bench", home.models, *TINY, *quality, cols=80, rows=50) as term:
        term.wait_for("chunks", 120, "a scoring progress bar")
        assert ended(term, 300) == 0
        lines = term.text().splitlines()
    assert any(
        ln.startswith("gguf-tui: quality against SmolLM2-135M-Instruct-Q8_0") for ln in lines
    )
    assert not any("chunks ·" in ln for ln in lines), "\n".join(lines)  # bars rewritten
    header = next(i for i, ln in enumerate(lines) if ln.startswith("MODEL"))
    assert "GEN tok/s" in lines[header] and lines[header].rstrip().endswith("SAME TOP")
    table = lines[header : header + 5]
    assert all(len(ln) < 80 for ln in table)  # pyte would have wrapped a wider line
    (marked,) = [ln for ln in table if ln.startswith("* ")]
    assert marked.split()[1] == "Q6_K" and " %" in marked
    assert any(ln.split()[0] == "Q8_0" and "0.0000" in ln and "100.0 %" in ln for ln in table)
    legend = " ".join(lines[header + 5 :])
    assert "the smallest within KLD 0.05: Q6_K" in legend and "PPL" in legend
    assert (home.data / "quality.json").exists()


@pytest.mark.parametrize("stage", ["scoring", "speed runs"])
def test_ctrl_c_stops_with_one_line(home, ladder, stage):
    from tests.terminal.harness import launched

    for quant in ("Q8_0", "Q4_K_M"):
        home.add_model(ladder[quant])
    q4 = home.models / ladder["Q4_K_M"].name
    if stage == "scoring":
        args = ("--quality", "--ctx", "512")
        waited, said = "chunks", "gguf-tui: stopped (Ctrl+C): nothing was saved"
    else:
        args = ("--gen-tokens", "400", "--repeat", "5")
        waited, said = "run 1/5", "gguf-tui: stopped (Ctrl+C)"
    with launched(home, "bench", q4, *args, cols=100) as term:
        term.wait_for(waited, 120, f"the {stage} under way")
        term.write(ctrl("c"))
        assert ended(term, 60) == 130
        text = term.text()
    assert said in text and "Traceback" not in text
    assert "MODEL" not in text  # no table of a half-done benchmark
    assert not (home.data / "quality.json").exists()
