"""A hostile or broken OpenAI-compatible server against the real `gguf-tui` (issue 11).

Each test launches the installed command on a fresh home against tests/support/fake_openai.py
misbehaving on purpose, and asserts what a user would see: the answer received so far kept on
the screen and in the database, one message saying what was wrong, passwords never shown or
saved, ctrl+q and escape acting at once whatever the server does.
"""

from __future__ import annotations

import json
import time

from tests.support.fake_openai import FakeOpenAI, Reply, drip, endless, text_chunks
from tests.terminal.harness import ESCAPE, Home, ctrl, launched

PASSWORD = "s3cr3t-pw"


def finished_answers(home: Home) -> list[str]:
    """Answers whose writing has ended (a checkpoint of one being written has no reason)."""
    if not home.database.exists():
        return []
    sql = "SELECT content FROM messages WHERE role='assistant' AND finish_reason IS NOT NULL"
    return [row[0] for row in home.query(sql)]


def write_config(home: Home, text: str) -> None:
    home.config.mkdir(parents=True, exist_ok=True)
    (home.config / "config.toml").write_text(text, encoding="utf-8")


def test_a_malformed_chunk_keeps_the_answer_so_far_and_says_what_was_wrong(home):
    chunks = [*text_chunks(["Kept ", "words ", "here."])[:3], {"choices": "not a list"}]
    with FakeOpenAI(models=["plain"]) as lab:
        lab.replies = [Reply(chunks=chunks, done=False)]
        with launched(home, "--server", lab.url, cols=120, rows=40) as term:
            term.wait_for("plain", 60, "the server's model in the status line")
            term.type_line("Say something")
            term.wait_for("not part of an answer", 30, "the reason the answer ended")
            assert "Kept words here." in term.flat()
            assert term.quit() == 0
    assert any("Kept words here." in answer for answer in finished_answers(home))


def test_credentials_in_the_server_url_are_never_shown_or_saved(home):
    with FakeOpenAI(models=["plain"]) as lab:
        url = lab.url.replace("http://", f"http://user:{PASSWORD}@")
        with launched(home, "--server", url, cols=120, rows=40) as term:
            term.wait_for("plain", 60, "the server's model")
            term.type_line("Hello")
            term.wait_for(lambda s: finished_answers(home) == ["Hello there!"], 30, "the answer")
            assert PASSWORD not in term.text()
            assert term.quit() == 0
        assert PASSWORD not in bytes(term.raw).decode("utf-8", "replace")
        sent = lab.requests[-1]["headers"].get("Authorization", "")
        assert sent.startswith("Basic "), sent  # the password went where it belongs
    rows = home.query("SELECT * FROM messages")
    assert rows and PASSWORD not in json.dumps(rows, default=str)
    for path in home.data.rglob("*"):
        if path.is_file() and path.suffix != ".sqlite3-wal":
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_escape_stops_an_endless_flood_of_text_at_once(home):
    with FakeOpenAI(models=["plain"]) as lab:
        # One event after another, each carrying 64 KB of text, as fast as the socket takes it.
        piece = b'data: {"choices":[{"delta":{"content":"' + b"flood " * 10_000 + b'"}}]}\n\n'
        lab.replies = [Reply(source=endless(piece))]
        with launched(home, "--server", lab.url, cols=120, rows=40) as term:
            term.wait_for("plain", 60, "the server's model")
            term.type_line("Go")
            term.wait_for("flood flood", 30, "the flood on the screen")
            pressed = time.monotonic()
            term.write(ESCAPE)
            term.wait_for(lambda s: finished_answers(home) != [], 10, "the stopped answer saved")
            stopped_after = time.monotonic() - pressed
            assert lab.connections_closed.wait(5), "the connection was not shut"
            assert stopped_after < 2.0, f"{stopped_after:.2f} s from escape to the saved answer"
            quit_began = time.monotonic()
            assert term.quit() == 0
            assert time.monotonic() - quit_began < 5
    (answer,) = finished_answers(home)
    assert answer.startswith("flood flood")
    assert len(answer) <= 1024 * 1024  # the answer cap


def test_a_flood_is_cut_at_the_answer_cap_and_the_app_stays_responsive(home):
    with FakeOpenAI(models=["plain"]) as lab:
        piece = b'data: {"choices":[{"delta":{"content":"' + b"flood " * 10_000 + b'"}}]}\n\n'
        lab.replies = [Reply(source=endless(piece))]
        with launched(home, "--server", lab.url, cols=120, rows=40) as term:
            term.wait_for("plain", 60, "the server's model")
            term.type_line("Go")
            term.wait_for(lambda s: finished_answers(home) != [], 120, "the answer cut and saved")
            term.wait_for("passed 1 MiB", 30, "the reason the answer ended")
            began = time.monotonic()
            assert term.quit() == 0
            assert time.monotonic() - began < 5
    (answer,) = finished_answers(home)
    assert len(answer) == 1024 * 1024


def test_ctrl_q_does_not_wait_for_a_server_that_trickles_its_model_list(home):
    with FakeOpenAI(models=["plain"]) as slow:
        slow.models_reply = Reply(source=drip(b"x" * 100_000), delay=1.0)
        write_config(home, f'[servers.slow]\nurl = "{slow.url}"\n')
        with launched(home, cols=120, rows=40) as term:
            term.wait_for("Choose a model", 60, "the picker")
            term.write(ctrl("r"))
            term.wait_for("Asking the servers", 10, "the servers view asking")
            began = time.monotonic()
            assert term.quit(timeout=10) == 0
            assert time.monotonic() - began < 3.0
        assert term.restored()


def test_two_servers_serving_the_same_model_id_are_both_listed(home):
    with (
        FakeOpenAI(models=["same-Q4_K_M.gguf"]) as one,
        FakeOpenAI(models=["same-Q4_K_M.gguf"]) as two,
    ):
        two.replies = [Reply(chunks=text_chunks(["from two"]))]
        write_config(
            home, f'[servers.one]\nurl = "{one.url}"\n\n[servers.two]\nurl = "{two.url}"\n'
        )
        with launched(home, cols=120, rows=40) as term:
            term.wait_for("Choose a model", 60, "the picker")
            term.write(ctrl("r"))
            term.wait_for("2 models on 2 servers", 30, "both servers' rows")
            # Rows come in the order the servers answer: pick the row of server two.
            rows = [line.split()[0] for line in term.text().splitlines() if "same-Q4_K_M  " in line]
            assert sorted(rows) == ["one", "two"], rows
            if rows[0] != "two":
                term.press("down")
            term.write("\r")
            term.wait_for(lambda s: "Choose a model" not in s, 30, "the picker closed")
            term.type_line("Hi")
            term.wait_for(lambda s: finished_answers(home) == ["from two"], 30, "two's answer")
            assert term.quit() == 0
