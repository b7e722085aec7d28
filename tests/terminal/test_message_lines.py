"""The line under each answer, as a user reads it in the real terminal: imported answers
are complete, and an answer stopped before its first token says so."""

from __future__ import annotations

import json

from gguf_tui.store.database import Store
from tests.terminal.harness import launched
from tests.terminal.seeded import STATS


def ready(term) -> None:
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx " in s, 120, "the model to load")


def test_an_imported_chat_py_history_shows_its_answers_complete(home, ladder, tmp_path):
    model = home.add_model(ladder["Q4_K_M"])
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "What is a volcano?"},
                {"role": "assistant", "content": "A vent where molten rock comes out."},
                {"role": "user", "content": "And lava?"},
                {"role": "assistant", "content": "Molten rock above ground."},
            ]
        )
    )
    with launched(home, "--import", history, model, cols=120, rows=40) as term:
        ready(term)
        term.wait_for("Molten rock above ground.", 30, "the imported conversation")
        screen = term.flat()
        assert "A vent where molten rock comes out." in screen
        assert "interrupted" not in screen and "app closed" not in screen
        assert term.quit() == 0
    reasons = home.query("SELECT finish_reason FROM messages WHERE role = 'assistant'")
    assert reasons == [("stop",), ("stop",)]


def test_an_imported_json_export_keeps_how_each_answer_ended(home, ladder, tmp_path):
    model = home.add_model(ladder["Q4_K_M"])
    export = tmp_path / "export.json"
    export.write_text(
        json.dumps(
            {
                "format": "gguf-tui-conversation",
                "version": 1,
                "title": "Lava",
                "messages": [
                    {"role": "user", "content": "Tell me about lava."},
                    {"role": "assistant", "content": "Lava is hot.", "stats": STATS},
                    {"role": "user", "content": "More?"},
                    {
                        "role": "assistant",
                        "content": "It flows",
                        "finish_reason": "stopped",
                        "stats": STATS,
                    },
                ],
            }
        )
    )
    with launched(home, "--import", export, model, cols=120, rows=40) as term:
        ready(term)
        term.wait_for("It flows", 30, "the imported conversation")
        screen = term.flat()
        assert "interrupted" not in screen
        assert "stopped" in screen  # the one that was stopped still says so
        assert term.quit() == 0


def test_an_answer_stopped_before_its_first_token_says_so(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    with Store(home.database) as store:
        conv = store.create_conversation(model_file=model.name, quant="Q4_K_M")
        store.add_message(conv.id, "user", "Write me a long story.")
        nothing = {**STATS, "generated_tokens": 0, "time_to_first_token": 0.0}
        nothing["generation_tokens_per_second"] = 0.0
        store.add_message(
            conv.id,
            "assistant",
            "",
            model_file=model.name,
            quant="Q4_K_M",
            stats=nothing,
            finish_reason="stopped",
        )
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.press("ctrl+down")  # the one saved conversation
        term.wait_for("Write me a long story.", 30, "the conversation")
        screen = term.wait_for("before the first token", 10, "what happened to the answer")
        flat = " ".join(screen.split())
        assert "0 tok" not in flat and "first token 0 ms" not in flat
        assert term.quit() == 0
