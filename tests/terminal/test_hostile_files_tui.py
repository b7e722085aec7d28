"""The app in a real terminal with hostile files around it (issue 16): a symlinked, commented
config.toml saved from the settings form keeps its link, comments and unknown keys; a config
nested 100,000 deep, a state.json that is a FIFO and a log that is /dev/full neither block
nor break the app, and the terminal is restored on leaving."""

from __future__ import annotations

import os
import stat
import tomllib

from tests.terminal.harness import ENTER, TAB, ctrl, launched

BACKSPACE = "\x7f"

HAND_EDITED = """\
# my settings: keep this comment
custom_key = "kept"   # a key gguf-tui does not know
theme = "textual-dark"  # the theme I like

[servers.local]
url = "http://127.0.0.1:8080/v1"
"""


def ready(term) -> None:
    term.wait_for(lambda s: "Q4_1" in s and "ctx 0/" in s, 120, "the model to load")


def test_settings_form_saves_through_the_symlink_and_keeps_the_comments(home, smollm_path):
    model = home.add_model(smollm_path)
    dotfiles = home.root / "dotfiles"
    dotfiles.mkdir(parents=True)
    real = dotfiles / "gguf-tui.toml"
    real.write_text(HAND_EDITED)
    home.config.mkdir(parents=True)
    link = home.config / "config.toml"
    link.symlink_to(real)
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.press("f10")
        term.wait_for("Save (ctrl+s)", 10, "the settings form")
        term.write(TAB + BACKSPACE * 4 + "2048")  # n_ctx, after model_dirs
        term.write(ctrl("s"))
        term.wait_gone("Save (ctrl+s)", 10)
        term.wait_for("Settings saved", 10)
        assert term.quit() == 0
        assert term.restored()
    assert link.is_symlink() and str(link.readlink()) == str(real)
    text = real.read_text()
    assert text.startswith(HAND_EDITED.split("\n\n")[0] + "\nn_ctx = 2048\n"), text
    assert "[servers.local]" in text
    assert tomllib.loads(text)["n_ctx"] == 2048
    assert sorted(p.name for p in dotfiles.iterdir()) == ["gguf-tui.toml"]


def test_a_nested_config_a_fifo_state_and_a_full_log_do_not_stop_the_app(home, smollm_path):
    model = home.add_model(smollm_path)
    home.config.mkdir(parents=True)
    config = home.config / "config.toml"
    config.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    before = config.read_bytes()
    (home.data / "logs").mkdir(parents=True)
    (home.data / "logs" / "gguf-tui.log").symlink_to("/dev/full")
    os.mkfifo(home.data / "state.json")
    with launched(home, model, cols=120, rows=40) as term:
        ready(term)
        term.type_line("Hello there.")
        term.wait_for("tok/s", 120, "the answer")
        assert term.quit() == 0
        assert term.restored()
        assert "Traceback" not in term.after_exit()
    assert config.read_bytes() == before
    assert stat.S_ISFIFO((home.data / "state.json").lstat().st_mode)
    assert (home.data / "logs" / "gguf-tui.log").is_symlink()


def palette(term, query: str, hit: str) -> None:
    term.write(ctrl("p"))
    term.wait_for("🔎", 10, "the command palette")
    term.write(query)
    term.wait_for(hit, 10, f"{hit!r} in the palette")
    term.write(ENTER)


def test_importing_a_fifo_or_a_nested_file_from_the_palette_is_one_notice(home, smollm_path):
    model = home.add_model(smollm_path)
    files = home.root / "files"
    files.mkdir(parents=True)
    fifo = files / "fifo.json"
    os.mkfifo(fifo)
    nested = files / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    with launched(home, model, cols=140, rows=40) as term:
        ready(term)
        for path, reason in ((fifo, "named pipe (FIFO)"), (nested, "nests deeper than 64")):
            palette(term, "import", "Import a chat.py history file")
            term.wait_for("History file to import", 10, "the import prompt")
            term.write(str(path) + ENTER)
            term.wait_for(reason, 10, f"the notice for {path.name}")
        term.type_line("Still here?")
        term.wait_for("tok/s", 120, "an answer after the failed imports")
        assert term.quit() == 0
        assert term.restored()
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
