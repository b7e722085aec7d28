"""llama.cpp's load options and per-model profiles, in the real terminal."""

from __future__ import annotations

import os
import shutil

from tests.terminal.harness import launched


def test_a_q8_0_cache_with_flash_attention_off_says_it_turned_it_on_and_answers(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(
        home, model, "-ctk", "q8_0", "-ctv", "q8_0", "-fa", "off", cols=120, rows=40
    ) as term:
        term.wait_for("needs flash attention, so it is on", 120, "the note of the load")
        term.wait_for(lambda s: "ctx 0/" in s and "loading" not in s, 60, "the model in use")
        term.type_line("Name a colour.")
        term.wait_for("tok/s", 120, "the answer")
        assert term.quit() == 0


def test_a_profile_holds_across_a_quant_switch(home, ladder):
    folder = home.root / "Downloads" / "llm"
    folder.mkdir(parents=True)
    for quant in ("Q4_K_M", "Q8_0"):
        target = folder / ladder[quant].name
        try:
            os.link(ladder[quant], target)
        except OSError:
            shutil.copyfile(ladder[quant], target)
    home.config.mkdir(parents=True, exist_ok=True)
    (home.config / "config.toml").write_text(
        'n_ctx = 2048\n\n[models."SmolLM2-135M-Instruct"]\nn_ctx = 1280\n', encoding="utf-8"
    )
    with launched(home, folder / ladder["Q4_K_M"].name, cols=120, rows=40) as term:
        term.wait_for(lambda s: "· Q4_K_M │" in s and "ctx 0/1,280" in s, 120, "Q4_K_M at 1,280")
        term.press("f3")
        term.wait_for("2 on disk", 30, "the siblings")
        term.type_line("Q8")
        term.wait_for(
            lambda s: "· Q8_0 │" in s and "ctx 0/1,280" in s and "loading" not in s,
            120,
            "Q8_0 with the profile's context",
        )
        assert term.quit() == 0
