"""`gguf-tui chat` (the classic line chat) in a real terminal, as users launch it:
the model by path, a line and its Enter in one write, `exit`/`quit`/`bye` to leave."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks
from tests.terminal.harness import ctrl, launched

GREEDY = ("--temperature", "0", "--seed", "1", "--max-tokens", "24", "--n-ctx", "1024")


def prompts(screen: str) -> int:
    """How many `user: ` prompts the screen shows."""
    return sum(1 for line in screen.splitlines() if line.startswith("user:"))


def wait_prompt(term, n: int, timeout: float = 120) -> str:
    return term.wait_for(lambda s: prompts(s) >= n, timeout, f"user: prompt number {n}")


def wait_exit(term, timeout: float = 30) -> int:
    """The exit status of a line chat that was told to leave."""
    deadline = time.monotonic() + timeout
    while term.proc.isalive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not term.proc.isalive(), f"the chat did not end:\n{term.text()}"
    term._reader.join(5)
    return term.proc.exitstatus


@pytest.mark.parametrize("word", ["exit", "quit", "bye"])
def test_chat_by_path_answers_a_typed_line_and_leaves(home, ladder, word):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, "chat", model, *GREEDY) as term:
        wait_prompt(term, 1)
        term.type_line("What is the capital of France?")
        screen = wait_prompt(term, 2)
        answer = screen.split("assistant: ", 1)[1].split("\nuser:", 1)[0]
        assert "France" in screen and answer.strip()
        term.type_line(word)
        assert wait_exit(term) == 0
        assert "Traceback" not in term.text()


def test_io_with_a_new_file_starts_fresh_and_saves_it(home, ladder, tmp_path):
    model = home.add_model(ladder["Q4_K_M"])
    history = tmp_path / "hist.json"
    with launched(home, "chat", model, "-io", history, *GREEDY) as term:
        wait_prompt(term, 1)
        term.type_line("Hello, who are you?")
        wait_prompt(term, 2)
        term.type_line("exit")
        assert wait_exit(term) == 0
        assert "does not exist" not in term.text()
    saved = json.loads(history.read_text(encoding="utf-8"))
    assert [m["role"] for m in saved] == ["user", "assistant"]
    assert saved[0] == {"role": "user", "content": "Hello, who are you?"}
    assert saved[1]["content"].strip()
    assert history.read_text(encoding="utf-8").startswith("[\n  {")  # indented like chat.py


def test_input_alone_still_refuses_a_missing_file(home, ladder, tmp_path):
    model = home.add_model(ladder["Q4_K_M"])
    with launched(home, "chat", model, "-i", tmp_path / "nope.json") as term:
        assert wait_exit(term, 60) == 2
        screen = "".join(term.text().splitlines())  # the line, unwrapped
    assert "gguf-tui: error:" in screen and "nope.json does not exist" in screen
    assert "Traceback" not in screen


def test_a_line_typed_during_an_answer_is_not_echoed_into_it(home, ladder):
    model = home.add_model(ladder["Q4_K_M"])
    args = ("--temperature", "0", "--seed", "1", "--max-tokens", "200", "--n-ctx", "1024")
    with launched(home, "chat", model, *args, cols=120, rows=40) as term:
        wait_prompt(term, 1)
        term.type_line("Write a long story about a lighthouse keeper.")
        term.wait_for(lambda s: len(s.split("assistant: ", 1)[-1]) > 10, 60, "the answer")
        term.type_line("And then?")
        screen = wait_prompt(term, 2)
        answer = screen.split("assistant: ", 1)[1].split("\nuser:", 1)[0]
        assert "And then?" not in answer  # the typed line waits for its own prompt
        term.wait_for(lambda s: "user: And then?" in s, 30, "the typed line at the prompt")
        wait_prompt(term, 3)
        term.write(ctrl("d"))
        assert wait_exit(term) == 0


def test_control_characters_in_an_answer_are_shown_not_obeyed(home):
    hostile = ["Hi \x1b[2J\x1b]0;pwned\x07", "there\x1b[31m red"]
    with FakeOpenAI() as fake:
        fake.replies.append(Reply(chunks=text_chunks(hostile)))
        with launched(home, "chat", "--server", fake.url) as term:
            wait_prompt(term, 1, 60)
            start = len(term.raw)
            term.type_line("Say hi")
            screen = term.wait_for(
                lambda s: "red" in s and s.rstrip().endswith("user:"), 60, "the answer"
            )
            answer = bytes(term.raw[start:])
            term.type_line("bye")
            assert wait_exit(term) == 0
    assert b"\x1b[2J" not in answer and b"\x1b]0;" not in answer and b"\x1b[31m" not in answer
    assert "␛[2J" in screen and "␛[31m red" in screen


def test_run_in_a_terminal_shows_control_characters_too(home):
    with FakeOpenAI() as fake:
        fake.replies.append(Reply(chunks=text_chunks(["Hi \x1b[2J", "there\x1b[31m red"])))
        with launched(home, "run", "--server", fake.url, "Say hi", "--quiet") as term:
            assert wait_exit(term) == 0
            screen, raw = term.text(), bytes(term.raw)
    assert b"\x1b[2J" not in raw and b"\x1b[31m" not in raw
    assert "Hi ␛[2Jthere␛[31m red" in screen
