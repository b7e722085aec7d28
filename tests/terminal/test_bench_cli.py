"""`gguf-tui bench` in a real terminal: progress rewritten in place, a table that fits."""

from __future__ import annotations

import time

import pytest

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
