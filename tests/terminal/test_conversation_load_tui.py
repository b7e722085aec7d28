"""A conversation's own KV-cache types (f4) in the real terminal, on the real SmolLM2."""

from __future__ import annotations

import json

from tests.terminal.harness import TAB, launched


def test_q8_0_kv_for_one_conversation_reloads_the_model_and_answers(home, smollm_path):
    model = home.add_model(smollm_path)

    def answers() -> list[str]:
        rows = home.query("SELECT content FROM messages WHERE role = 'assistant' ORDER BY id")
        return [r[0] for r in rows]

    with launched(home, model, cols=120, rows=40) as term:
        term.wait_for(lambda s: "Q4_1" in s and "ctx 0/" in s, 120, "the model to load")
        term.type_line("Name a colour.")
        term.wait_for("tok/s", 120, "the first answer")
        term.wait_for(lambda s: "generating" not in s, 60, "the first answer to end")
        assert "KV q8_0" not in term.text()  # loaded with llama.cpp's default (f16)
        term.press("f4")
        term.wait_for("Empty fields use", 10, "the conversation's form")
        # system_prompt, temperature, top_p, top_k, min_p, repeat_penalty, max_tokens, seed,
        # n_ctx, then cache_type_k, cache_type_v and flash_attn.
        term.write(TAB * 9 + "q8_0" + TAB + "q8_0" + TAB + "off" + "\r")
        term.wait_for("Saved for this conversation", 10)
        term.type_line("Name another colour.")
        term.wait_for("KV cache q8_0/q8_0", 30, "the reload, saying what it is for")
        # A quantized V cache needs flash attention: the load says it turned it on.
        term.wait_for("needs flash attention, so it is on", 120, "the load's stated choice")
        term.wait_for(
            lambda s: (
                "KV q8_0 │" in s
                and "generating" not in s
                and "loading" not in s
                and len(answers()) == 2
                and all(answers())
            ),
            120,
            "the second answer, on the q8_0 cache",
        )
        assert term.quit() == 0
    (settings,) = home.query("SELECT settings FROM conversations")
    assert json.loads(settings[0]) == {
        "cache_type_k": "q8_0",
        "cache_type_v": "q8_0",
        "flash_attn": "off",
    }
    log = (home.data / "logs" / "gguf-tui.log").read_text(encoding="utf-8")
    assert "KV cache q8_0/q8_0, flash attention on" in log
