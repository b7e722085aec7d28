"""What is unusual about the model in use stays on screen while it applies."""

from __future__ import annotations

from tests.terminal.harness import launched


def test_a_model_without_a_chat_template_says_so_above_the_conversation(home, gemma_path):
    model = home.add_model(gemma_path)
    with launched(home, model, "--max-tokens", "16") as term:
        term.wait_for(lambda s: "ctx " in s and "loading" not in s, 120, "gemma to load")
        term.type_line("Hi")
        term.wait_for("tok/s ·", 120, "the answer")
        # Long after every notice has gone, the header still says it.
        term.wait_for("no chat template", 5)
        assert "chosen from its architecture" in term.flat()
        assert term.quit() == 0
