"""Copying out of the real terminal: what reaches the clipboard is what the app wrote as
OSC 52 (ESC ] 52 ; c ; BASE64 BEL), decoded here and compared with the message text."""

from __future__ import annotations

import pytest

from tests.terminal.harness import launched
from tests.terminal.seeded import background, copied, notices, seed

QUESTION = "How do I print in Python and list files in bash?"
FIRST_CODE = 'print("hello, world")\nprint(40 + 2)'
SECOND_CODE = "ls -la ~/models"
ANSWER = (
    "In Python, `print` writes a line:\n\n"
    f"```python\n{FIRST_CODE}\n```\n\n"
    "and in bash, `ls` lists a folder:\n\n"
    f"```bash\n{SECOND_CODE}\n```\n\n"
    "That is all — ünïcödé included."
)


F5, F6, F12 = "\x1b[15~", "\x1b[17~", "\x1b[24~"  # as xterm sends them


def ready(term) -> None:
    """Loaded, and its "Loaded" notice gone: each copy's notice is then the only one."""
    term.wait_for(lambda s: "Q4_K_M" in s and "ctx " in s, 120, "the model to load")
    term.wait_for(lambda s: not notices(term), 30, "the start's notices to go")


def open_seeded(home, ladder, **size):
    model = home.add_model(ladder["Q4_K_M"])
    seed(home, ("Printing", [("user", QUESTION), ("assistant", ANSWER)]), model_file=model.name)
    return launched(home, model, **size)


def wait_copied(term, count: int, notice: str) -> str:
    """The text of the `count`th clipboard write, once the notice saying so was shown (and
    gone again, so that the next one is not stacked under it)."""
    term.wait_for(lambda s: notice in notices(term), 10, f"the notice {notice!r}")
    term.wait_for(lambda s: len(copied(term)) >= count, 5, f"{count} clipboard writes")
    term.wait_for(lambda s: notice not in notices(term), 10, "the notice to go")
    return copied(term)[-1]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_keys_copy_the_answer_its_code_blocks_and_the_highlighted_message(home, ladder, size):
    with open_seeded(home, ladder, cols=size[0], rows=size[1]) as term:
        ready(term)
        term.press("ctrl+down")  # the saved conversation
        term.wait_for("That is all", 30, "the conversation")

        term.press(F5)
        assert wait_copied(term, 1, f"Copied the answer ({len(ANSWER)} characters)") == ANSWER

        term.press(F6)
        assert wait_copied(term, 2, "Copied code block 1 of 2 (python, 2 lines)") == FIRST_CODE
        term.press(F6)
        assert wait_copied(term, 3, "Copied code block 2 of 2 (bash, 1 line)") == SECOND_CODE
        term.press(F6)  # round again
        assert wait_copied(term, 4, "Copied code block 1 of 2") == FIRST_CODE

        # Plain letters typed in the prompt are text, never a copy.
        term.write("cy")
        term.wait_for("cy", 5, "the letters in the prompt")
        assert len(copied(term)) == 4

        # The conversation: shift+tab to it, up to the question, c copies it.
        before = background(term, "That is all")
        term.press("shift+tab")  # the newest message is highlighted: wait for it (keys right
        # behind a tab from the prompt would still land in the prompt)
        term.wait_for(lambda s: background(term, "That is all") != before, 10, "the focus")
        term.press("up")
        term.press("c")
        assert wait_copied(term, 5, f"Copied your message ({len(QUESTION)} characters)") == QUESTION
        term.press("down")
        term.press("y")
        assert wait_copied(term, 6, "Copied the answer") == ANSWER
        assert term.quit() == 0
        assert term.restored()


def test_the_palette_copies_and_the_help_lists_the_copy_keys(home, ladder):
    with open_seeded(home, ladder, cols=120, rows=40) as term:
        ready(term)
        term.press("ctrl+down")
        term.wait_for("That is all", 30, "the conversation")
        term.write("\x10")  # ctrl+p
        term.wait_for("Search for commands", 10, "the command palette")
        term.write("Copy the last answer")
        term.wait_for("Copy the last answer to the clipboard", 10, "the copy command")
        term.write("\r")
        assert wait_copied(term, 1, "Copied the answer") == ANSWER

        term.press("f1")
        keys = ("copy_answer", "copy_code", "copy_message")  # (the help draws in parts)
        term.wait_for(lambda s: all(k in s for k in keys), 10, "the copy keys in the help")
        assert term.quit() == 0


def test_the_copy_keys_can_be_remapped(home, ladder):
    home.config.mkdir(parents=True, exist_ok=True)
    (home.config / "config.toml").write_text('[keymap]\ncopy_answer = "f12"\n')
    with open_seeded(home, ladder, cols=120, rows=40) as term:
        ready(term)
        term.press("ctrl+down")
        term.wait_for("That is all", 30, "the conversation")
        term.press(F12)
        assert wait_copied(term, 1, "Copied the answer") == ANSWER
        assert term.quit() == 0
