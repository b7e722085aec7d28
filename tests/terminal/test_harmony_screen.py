"""gpt-oss's harmony format in a real terminal: a server that passes the channel markers
through (llama-server with `--reasoning-format none`) streams them in the answer's text;
the user sees the analysis folded as reasoning, the final channel as the answer, and no
marker at all."""

from __future__ import annotations

from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks
from tests.terminal.harness import Home, launched

ANALYSIS = "The user asks for 2+2. That is 4; answer briefly."
FINAL = "It is **4**, as always."
HARMONY = (
    f"<|channel|>analysis<|message|>{ANALYSIS}<|end|>"
    f"<|start|>assistant<|channel|>final<|message|>{FINAL}<|return|>"
)


def test_gpt_oss_reasoning_is_folded_and_its_markers_never_shown(home: Home):
    pieces = [HARMONY[i : i + 3] for i in range(0, len(HARMONY), 3)]  # markers cut anywhere
    with FakeOpenAI(models=["gpt-oss-20b"]) as lab:
        lab.replies.append(Reply(chunks=text_chunks(pieces), delay=1 / 100))
        with launched(home, "--server", lab.url, cols=120, rows=40) as term:
            term.wait_for("gpt-oss-20b", 60, "the server's model")
            term.type_line("What is 2+2?")
            screen = term.wait_for("It is 4, as always.", 30, "the final channel as the answer")
            term.wait_gone("writing …", 30)
            screen = term.text()
            assert "Reasoning" in screen and ANALYSIS not in screen  # folded once answered
            assert "<|" not in screen and "analysis" not in screen
            assert term.quit() == 0
    saved = home.query("SELECT content, reasoning FROM messages WHERE role = 'assistant'")
    assert saved == [(FINAL, ANALYSIS)]
