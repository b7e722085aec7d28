"""Names from outside in the real `gguf-tui`: GGUF file names and metadata, server model ids,
server error bodies, Hub repository and file names. Each carries terminal escapes (title,
clipboard, link, queries), C0/C1 controls, bidi overrides and Rich markup that matches
nothing (tests/support/hostile_text.py). None of it may reach the terminal raw
(`term.raw`), the title and clipboard stay untouched, the screen shows the neutralised form,
and nothing crashes (a `MarkupError` ended the app before).
"""

from __future__ import annotations

import re

import pytest

from tests.support.hostile_gguf import write_tiny
from tests.support.hostile_text import (
    NAME_PAYLOAD,
    NAME_SHOWN,
    PAYLOAD,
    PAYLOAD_SHOWN,
    leaks,
)
from tests.support.models import tiny_gguf
from tests.terminal.harness import ENTER, Home, ctrl, launched

pytest_plugins = ["tests.conftest_hub"]

SIZES = [(80, 24), (120, 40)]


def write_config(home: Home, text: str) -> None:
    home.config.mkdir(parents=True, exist_ok=True)
    (home.config / "config.toml").write_text(text, encoding="utf-8")


def shows(phrase: str):
    """A test on the screen: `phrase` is on it, wherever the lines wrap it."""
    squeezed = re.sub(r"\s+", "", phrase)
    return lambda screen: squeezed in re.sub(r"\s+", "", screen)


def hostile_models(home: Home) -> None:
    """A loadable model whose file name, general.name and size label are hostile, and one
    (never loaded) whose architecture is."""
    home.models.mkdir(parents=True, exist_ok=True)
    write_tiny(
        home.models / f"a{NAME_PAYLOAD}.gguf",
        **{"general.name": "N" + PAYLOAD, "general.size_label": PAYLOAD},
    )
    tiny_gguf(home.models / "b-arch.gguf", architecture=PAYLOAD, **{"general.name": PAYLOAD})
    write_config(home, 'model_dirs = ["~/models"]\n')


@pytest.mark.parametrize("size", SIZES)
def test_hostile_gguf_names_and_metadata_stay_inert(home, size):
    hostile_models(home)
    with launched(home, "--max-tokens", "8", cols=size[0], rows=size[1]) as term:
        # The Local view: the table, and the detail line of each row.
        term.wait_for(NAME_SHOWN, 60, "the hostile file name in the Local table")
        term.wait_for(shows("␈BSP␡DEL␋VTB␇BEL params"), 10, "the size label in the detail")
        term.press("down")
        term.wait_for(shows(f"params · {PAYLOAD_SHOWN}"), 10, "the architecture in the detail")
        term.press("up")
        term.write(ENTER)
        # The load: its notice names the file, then the status line.
        term.wait_for(lambda s: "Choose a model" not in s and "Loaded" in s, 120, "the load")
        term.wait_for(lambda s: NAME_SHOWN[:12] in s.splitlines()[-2], 30, "the status line")
        term.wait_gone("Loaded", 30)
        term.type_line("hi")
        term.wait_for("tok/s", 120, "the stats line under the answer")
        screen = term.text()
        assert "a[bold]␛]0;PWN" in screen  # the stats line shows the file name neutralised
        assert leaks(bytes(term.raw), PAYLOAD, NAME_PAYLOAD) == []
        assert term.quit() == 0
    assert term.restored()


@pytest.mark.parametrize("size", SIZES)
def test_hostile_server_ids_errors_and_answers_stay_inert(home, size):
    import json

    from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks

    # The id without `//`: the app keeps a server model's id as a Path, which folds `//`
    # (a separate defect, left to the server side).
    model_id = f"[/x]{NAME_PAYLOAD}-Q4_K_M.gguf"
    with FakeOpenAI(models=[model_id]) as lab:
        lab.replies = [
            Reply(status=500, body=json.dumps({"error": {"message": PAYLOAD}})),
            Reply(chunks=text_chunks(["ok ", PAYLOAD, " end"])),
        ]
        write_config(home, f'[servers.lab]\nurl = "{lab.url}"\n')
        with launched(home, cols=size[0], rows=size[1]) as term:
            term.wait_for("Choose a model", 60, "the picker")
            term.write(ctrl("r"))
            term.wait_for(shows("[/x][bold]␛]0;PWN"), 30, "the model id in the Servers table")
            term.write(ENTER)
            term.wait_for(lambda s: "Choose a model" not in s, 60, "the server's model in use")
            term.wait_for(lambda s: "][bold]␛]0;PWN" in s.splitlines()[-2], 30, "the status line")
            term.type_line("hi")  # a 500 whose body is the payload: a notice, not a crash
            term.wait_for("The answer failed", 30, "the error notice")
            term.wait_for(shows(PAYLOAD_SHOWN[:8]), 10, "the error body, neutralised")
            term.wait_gone("The answer failed", 30)
            term.type_line("again")  # an answer that is the payload
            term.wait_for("tok/s", 30, "the whole answer, and its stats line")
            term.wait_for(shows(PAYLOAD_SHOWN), 10, "the answer, neutralised")
            term.wait_for(shows("RST[bold]B[/bold]"), 10, "markup in the answer, as written")
            term.wait_for(shows("][bold]␛]0;PWN-T0␇BELA"), 10, "the id in the stats line")
            assert leaks(bytes(term.raw), PAYLOAD, model_id) == []
            assert term.quit() == 0
        assert term.restored()


@pytest.mark.parametrize("size", SIZES)
def test_hostile_hub_names_stay_inert(tmp_path, ladder, hub_env, size):
    """Search results whose repository ids are hostile, and a repository whose file names
    are: the Hugging Face tables and the line under them."""
    from tests.support.fake_hub import FakeHub

    with FakeHub() as hub:
        hub.add_repo(f"evil/{NAME_PAYLOAD}", {"x-Q4_K_M.gguf": ladder["Q4_K_M"]}, downloads=9)
        hub.add_repo("evil/names", {f"{NAME_PAYLOAD}-Q8_0.gguf": ladder["Q8_0"]}, downloads=5)
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(hub_env)}
        home = Home(tmp_path / "home", extra_env=env)
        with launched(home, cols=size[0], rows=size[1]) as term:
            term.wait_for("Choose a model", 60, "the picker")
            term.write(ctrl("g"))
            term.wait_for("Type a search", 10, "the Hugging Face view")
            term.type_line("evil")
            term.wait_for(shows("evil/[bold]␛]0;PWN-T0␇"), 30, "the hostile repository id")
            term.press("down")
            term.write(ENTER)
            term.wait_for("Q8_0", 30, "the repository's quantizations")
            assert leaks(bytes(term.raw), NAME_PAYLOAD) == []
            assert term.quit() == 0
        assert term.restored()


def test_run_on_a_terminal_makes_the_answer_inert(home):
    from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks

    with FakeOpenAI(models=["plain"]) as lab:
        lab.replies = [Reply(chunks=text_chunks(["ok ", PAYLOAD, " end"]))]
        with launched(home, "run", "--server", lab.url, "hi") as term:
            term.wait_for(shows("␇BEL end"), 30, "the answer")
            term.wait_for(lambda s: not term.proc.isalive() or "tok" in s, 30, "the stats")
            assert "[/x]␛]0;PWN-T0␇BELA" in term.text()
            assert leaks(bytes(term.raw), PAYLOAD) == []


def test_pull_of_a_hostile_file_name_is_an_inert_refusal_on_a_terminal(tmp_path, ladder, hub_env):
    """A Hub file name with control characters is refused before any download (section 1
    of the issue); the refusal, which quotes it, reaches the terminal neutralised."""
    from tests.support.fake_hub import FakeHub

    with FakeHub() as hub:
        hub.add_repo("evil/names", {f"{NAME_PAYLOAD}-Q8_0.gguf": ladder["Q8_0"]})
        env = {"HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(hub_env)}
        home = Home(tmp_path / "home", extra_env=env)
        with launched(home, "pull", "evil/names:Q8_0", "--dir", tmp_path / "dl") as term:
            term.wait_for(lambda s: not term.proc.isalive(), 60, "pull to finish")
            term.proc.wait()
            assert term.proc.exitstatus == 2, term.text()
            assert "gguf-tui: error:" in term.text()
            assert "Traceback" not in term.text()
            assert leaks(bytes(term.raw), NAME_PAYLOAD) == []
    assert not list((tmp_path / "dl").glob("*PWN*"))
