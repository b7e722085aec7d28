"""The settings forms (f10, f4) in the real terminal: focus, fast typing, mistakes."""

from __future__ import annotations

import json
import tomllib

from tests.terminal.harness import TAB, ctrl, launched

BACKSPACE = "\x7f"


def ready(term, quant: str = "Q4_K_M") -> None:
    term.wait_for(lambda s: quant in s and "ctx 0/" in s, 120, "the model to load")


def test_settings_typed_fast_land_in_their_fields_and_a_mistake_keeps_the_form(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.press("f10")
        term.wait_for("Save (ctrl+s)", 10, "the settings form")
        # The first field (model_dirs) has focus: typing lands there at once, and a tab
        # in the same burst moves on before the next value.
        term.write("~/more-models" + TAB + BACKSPACE * 4 + "banana")
        term.write(ctrl("s"))
        term.wait_for("is not a whole number", 10, "the problem beside n_ctx")
        screen = term.text()
        assert "Save (ctrl+s)" in screen, "the form closed on a mistake"
        assert "~/more-models" in screen, "the user's input was thrown away"
        # The bad field has the focus again: correct it and save.
        term.write(BACKSPACE * 6 + "2048")
        term.write(ctrl("s"))
        term.wait_gone("Save (ctrl+s)", 10)
        term.wait_for("Settings saved", 10)
        assert term.quit() == 0
    saved = tomllib.loads((home.config / "config.toml").read_text())
    assert saved["model_dirs"] == ["~/more-models"]
    assert saved["n_ctx"] == 2048


def test_a_conversations_own_settings_saved_with_enter(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model) as term:
        ready(term)
        term.type_line("Hello there.")
        term.wait_for("tok/s", 120, "the answer")
        term.press("f4")
        term.wait_for("Empty fields use", 10, "the conversation's form")
        term.write("Be terse." + TAB + "0.3" + "\r")
        term.wait_for("Saved for this conversation", 10)
        assert term.quit() == 0
    (settings,) = home.query("SELECT settings FROM conversations")
    assert json.loads(settings[0]) == {"system_prompt": "Be terse.", "temperature": 0.3}


def test_the_kv_cache_type_is_chosen_by_llama_cpps_names(home, ladder):
    """f10: cache_type_k takes llama.cpp's names; another is refused with the list."""
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.press("f10")
        term.wait_for("Save (ctrl+s)", 10, "the settings form")
        # model_dirs, n_ctx, n_gpu_layers, threads, chat_format, then cache_type_k (f16).
        term.write(TAB * 5 + BACKSPACE * 3 + "q9")
        term.write(ctrl("s"))
        term.wait_for("should be one of f32, f16, bf16, q8_0", 10, "the problem beside it")
        term.write(BACKSPACE * 2 + "q8_0")
        term.write(ctrl("s"))
        term.wait_gone("Save (ctrl+s)", 10)
        term.wait_for("Settings saved", 10)
        assert term.quit() == 0
    saved = tomllib.loads((home.config / "config.toml").read_text())
    assert saved["cache_type_k"] == "q8_0"
    assert "cache_type_v" not in saved  # only what the user changed is written
