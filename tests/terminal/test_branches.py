"""A conversation is a tree, in a real terminal (issue 14): regenerate, edit and continue
keep every version, each one key away, and the model is sent only the branch shown.

The server tests use tests/support/fake_openai.py, which records every request: what the
model was sent is read there, not guessed. Continue needs a model loaded here (servers do
not all resume a turn), so it runs on real llama.cpp."""

from __future__ import annotations

import contextlib
import json
import subprocess

from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks
from tests.terminal.harness import ESCAPE, TAB, Home, Terminal, ctrl, launched
from tests.terminal.seeded import background


def answers(home: Home) -> list[tuple[int, int | None, str]]:
    """(id, parent, text) of every finished answer, oldest first."""
    if not home.database.exists():
        return []
    return home.query(
        "SELECT id, parent_id, content FROM messages WHERE role = 'assistant'"
        " AND finish_reason IS NOT NULL ORDER BY id"
    )


def focus_conversation(term: Terminal, newest: str) -> None:
    """shift+tab from the prompt to the conversation, and wait until the newest message
    (showing `newest`) is highlighted: keys sent right behind the tab would still land
    in the prompt."""
    before = background(term, newest)
    term.press("shift+tab")
    term.wait_for(lambda s: background(term, newest) != before, 10, "the focus on the messages")


def both(*phrases: str):
    return lambda screen: all(p in screen for p in phrases)


def replies(*texts: str) -> list[Reply]:
    return [Reply(chunks=text_chunks([t])) for t in texts]


def sent_to_model(lab: FakeOpenAI) -> list[str]:
    """The user and assistant turns of the last request the server got."""
    body = lab.requests[-1]["json"]
    return [m["content"] for m in body["messages"] if m["role"] != "system"]


def test_regenerate_twice_keeps_three_versions_each_one_key_away(home):
    with FakeOpenAI(models=["plain"]) as lab:
        lab.replies = replies("Version one.", "Version two.", "Version three.")
        with launched(home, "--server", lab.url, cols=120, rows=40) as term:
            term.wait_for("plain", 60, "the server's model")
            term.type_line("Hi")
            term.wait_for("Version one.", 30, "the first answer")
            term.write(ctrl("r"))
            term.wait_for(both("‹ 2/2 ›", "Version two."), 30, "the second version, marked")
            term.write(ctrl("r"))
            screen = term.wait_for(both("‹ 3/3 ›", "Version three."), 30, "the third version")
            assert "Version one." not in screen
            assert len({parent for _, parent, _ in answers(home)}) == 1  # siblings
            assert [text for *_, text in answers(home)] == [
                "Version one.",
                "Version two.",
                "Version three.",
            ]

            term.press("alt+left")
            screen = term.wait_for("‹ 2/3 ›", 10, "the previous version")
            assert "Version two." in screen and "Version three." not in screen
            term.press("alt+left")
            screen = term.wait_for("‹ 1/3 ›", 10, "the first version")
            assert "Version one." in screen
            term.press("alt+left")
            term.wait_for("This is the first version (1/3)", 10, "the end said")
            term.press("alt+right")
            term.wait_for("‹ 2/3 ›", 10, "forward again")

            # The next message follows the version shown, and the model is sent it.
            lab.replies = replies("Noted.")
            term.type_line("Go on")
            term.wait_for("Noted.", 30, "the next answer")
            assert sent_to_model(lab) == ["Hi", "Version two.", "Go on"]
            assert term.quit() == 0

    # The branch shown is kept: the next launch opens it as it was left.
    with (
        FakeOpenAI(models=["plain"]) as lab,
        launched(home, "--server", lab.url, cols=120, rows=40) as term,
    ):
        screen = term.wait_for("Noted.", 60, "the conversation as it was left")
        assert "‹ 2/3 ›" in screen and "Version two." in screen
        assert term.quit() == 0


def test_editing_the_first_message_keeps_both_branches_and_sends_only_the_one_shown(home):
    with FakeOpenAI(models=["plain"]) as lab:
        lab.replies = replies("Answer one.", "Answer two.", "Answer three.", "Answer uno.")
        with launched(home, "--server", lab.url, cols=120, rows=40) as term:
            term.wait_for("plain", 60, "the server's model")
            for n, word in enumerate(("one", "two", "three")):
                term.type_line(f"Say {word}")
                term.wait_for(lambda s, n=n: len(answers(home)) == n + 1, 30, f"answer {n + 1}")
            term.wait_for("Answer three.", 10, "the third answer on screen")

            # The conversation: shift+tab to it, home to the first message, enter edits it.
            focus_conversation(term, "Answer three.")
            term.press("home")
            term.write("\r")
            term.wait_for("Editing this message", 10, "the edit begins")
            term.press(*["backspace"] * len("one"))
            term.type_line("uno")
            term.wait_for("Answer uno.", 30, "the answer to the edited message")
            screen = term.text()
            assert "Answer three." not in screen and "Say two" not in screen
            assert "‹ 2/2 ›" in screen  # the first message has two versions now
            # The model was sent the new branch only.
            assert sent_to_model(lab) == ["Say uno"]

            # The old branch is one key away, whole.
            focus_conversation(term, "Answer uno.")
            term.press("home")
            term.press("alt+left")
            screen = term.wait_for("Answer three.", 10, "the first branch, back")
            assert "‹ 1/2 ›" in screen and "Answer uno." not in screen
            lab.replies = replies("Four.")
            term.write(TAB)  # back to the prompt: its footer shows once it has the focus
            term.wait_for("⏎ Send", 10, "the prompt focused")
            term.type_line("Say four")
            term.wait_for("Four.", 30, "an answer on the first branch")
            assert sent_to_model(lab) == [
                "Say one",
                "Answer one.",
                "Say two",
                "Answer two.",
                "Say three",
                "Answer three.",
                "Say four",
            ]
            assert term.quit() == 0
    users = home.query("SELECT content, parent_id FROM messages WHERE role = 'user' ORDER BY id")
    assert [u[0] for u in users] == ["Say one", "Say two", "Say three", "Say uno", "Say four"]
    assert users[0][1] is None and users[3][1] is None  # both versions begin the conversation


def test_continue_extends_a_stopped_answer_in_place(home, smollm_path):
    model = home.add_model(smollm_path)
    with launched(home, model, cols=120, rows=40) as term:
        term.wait_for("idle", 90, "the model loaded")
        term.type_line("Write a long story about a dragon who learns to sing.")
        term.wait_for("writing", 30, "the answer being written")
        term.wait_for(lambda s: checkpointed(home) >= 40, 60, "some of the answer written")
        term.write(ESCAPE)
        term.wait_for("stopped", 30, "the stopped answer")
        before = stopped_text(home)
        assert before
        term.press("f7")
        term.wait_for("writing", 30, "the answer going on")
        term.wait_for(lambda s: checkpointed(home) >= len(before) + 40, 60, "more of it")
        term.write(ESCAPE)
        screen = term.wait_for("continued", 30, "the continued answer")
        assert "stopped" in screen
        rows = home.query("SELECT content FROM messages WHERE role = 'assistant'")
        assert len(rows) == 1, "continuing made another answer instead of going on"
        assert rows[0][0].startswith(before) and len(rows[0][0]) > len(before) + 20
        assert term.quit() == 0


def checkpointed(home: Home) -> int:
    rows = home.query("SELECT length(content) FROM messages WHERE role = 'assistant'")
    return max((r[0] or 0 for r in rows), default=0)


def stopped_text(home: Home) -> str | None:
    if not home.database.exists():
        return None
    rows = home.query(
        "SELECT content FROM messages WHERE role = 'assistant' AND finish_reason = 'stopped'"
    )
    return rows[-1][0] if rows else None


def test_a_tree_exported_as_json_and_imported_elsewhere_is_the_same_tree(home, tmp_path):
    """`gguf-tui export --format json` on one home, `gguf-tui --import FILE` on a fresh
    one: every version comes back, the same one shown, reachable with the keys, and the
    new home exports the very same file (but for the database's own ids and times)."""
    from gguf_tui.store.database import Store

    with Store(home.database) as store:
        conv = store.create_conversation("Tree")
        question = store.add_message(conv.id, "user", "Pick a number")
        store.add_message(conv.id, "assistant", "Seven.", finish_reason="stop")
        store.add_message(
            conv.id, "assistant", "Forty-two.", parent_id=question.id, finish_reason="stop"
        )
    exported = run_cli(home, "export", "--last", "--format", "json")
    path = tmp_path / "tree.json"
    path.write_text(exported, encoding="utf-8")

    other = Home(tmp_path / "other")
    with contextlib.ExitStack() as stack:
        lab = stack.enter_context(FakeOpenAI(models=["plain"]))
        args = ("--server", lab.url, "--import", path)
        term = stack.enter_context(launched(other, *args, cols=120, rows=40))
        screen = term.wait_for(both("Forty-two.", "‹ 2/2 ›"), 60, "the imported tree")
        assert "Seven." not in screen
        term.press("alt+left")
        term.wait_for(both("Seven.", "‹ 1/2 ›"), 10, "the other version")
        term.press("alt+right")
        term.wait_for("‹ 2/2 ›", 10, "back to the version shown")
        assert term.quit() == 0
    again = run_cli(other, "export", "--last", "--format", "json")

    def same(text: str) -> dict:
        return {k: v for k, v in json.loads(text).items() if k not in ("id", "updated")}

    assert same(again) == same(exported)


def run_cli(home: Home, *args: str) -> str:
    from tests.terminal.harness import gguf_tui_command

    done = subprocess.run(
        [gguf_tui_command(), *args], env=home.env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_version_is_deleted_only_when_confirmed_and_a_branch_forks_into_a_new_chat(home):
    with FakeOpenAI(models=["plain"]) as lab:
        lab.replies = replies("Keep me.", "Delete me.")
        with launched(home, "--server", lab.url, cols=120, rows=40) as term:
            term.wait_for("plain", 60, "the server's model")
            term.type_line("Hi")
            term.wait_for("Keep me.", 30, "the first answer")
            term.write(ctrl("r"))
            term.wait_for(both("‹ 2/2 ›", "Delete me."), 30, "the second version")

            focus_conversation(term, "Delete me.")
            term.press("delete")
            term.wait_for("Delete this answer? (1 other version stays.)", 10, "the question")
            term.press("n")  # no: nothing happens
            term.wait_gone("Delete this answer?", 10)
            assert len(answers(home)) == 2
            term.press("delete")
            term.wait_for("Delete this answer?", 10, "the question again")
            term.press("y")
            screen = term.wait_for("Keep me.", 10, "the other version, shown")
            assert "Delete me." not in screen and "‹" not in screen
            assert [text for *_, text in answers(home)] == ["Keep me."]

            term.press("f9")
            term.wait_for("Forked into a new conversation", 10, "the fork")
            term.wait_for("2 conversations", 10, "the fork in the sidebar")
            assert term.quit() == 0
    titles = [t for (t,) in home.query("SELECT title FROM conversations ORDER BY id")]
    assert titles == ["Hi", "Hi (fork)"]
    forked = home.query("SELECT role, content FROM messages WHERE conversation_id = 2 ORDER BY id")
    assert forked == [("user", "Hi"), ("assistant", "Keep me.")]


def test_a_search_hit_in_another_version_opens_that_version(home):
    from gguf_tui.store.database import Store

    with Store(home.database) as store:
        conv = store.create_conversation("Islands")
        question = store.add_message(conv.id, "user", "Name an island")
        store.add_message(conv.id, "assistant", "Zanzibar, off Tanzania.", finish_reason="stop")
        store.add_message(conv.id, "assistant", "Crete.", parent_id=question.id)
    with contextlib.ExitStack() as stack:
        lab = stack.enter_context(FakeOpenAI(models=["plain"]))
        term = stack.enter_context(launched(home, "--server", lab.url, cols=120, rows=40))
        term.wait_for("plain", 60, "the server's model")
        term.write(ctrl("f"))
        term.wait_for("Search conversations", 10, "the search box")
        term.write("zanzibar")
        term.wait_for("1 match", 10, "the conversation that matches")
        term.write("\r")
        screen = term.wait_for(both("Zanzibar", "‹ 1/2 ›"), 15, "the version with the hit")
        assert "Crete." not in screen
        assert term.quit() == 0
    with Store(home.database) as store:  # and it stays the version shown
        assert [m.content for m in store.messages(conv.id)][-1] == "Zanzibar, off Tanzania."
