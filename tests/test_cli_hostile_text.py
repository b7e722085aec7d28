"""The command line with names and bodies from outside (tests/support/hostile_text.py),
run as a user would (subprocesses, output to pipes). Messages, banners and listings are
for people wherever they go: no ESC, no other C0 but tab and newline, no C1, no bidi
override. Answers and exports into a pipe stay byte-exact (docs/cli.md); on a terminal
they are made inert (tests/terminal/test_hostile_names.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.cli import ROOT
from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks
from tests.support.hostile_gguf import write_tiny
from tests.support.hostile_text import NAME_PAYLOAD, PAYLOAD, foreign_controls
from tests.support.models import tiny_gguf

# A model id as a server may send it, without `//` (see test_hostile_names.py).
MODEL_ID = f"[/x]{NAME_PAYLOAD}-Q4_K_M.gguf"


def gguf_tui_bytes(*args: object, input: bytes = b"", timeout: float = 120):
    """`python -m gguf_tui ARGS`, stdout and stderr as the bytes written to the pipes."""
    return subprocess.run(
        [sys.executable, "-m", "gguf_tui", *map(str, args)],
        input=input,
        capture_output=True,
        timeout=timeout,
        cwd=ROOT,
        env=os.environ.copy(),
    )


def shown(data: bytes) -> str:
    text = data.decode("utf-8")  # never undecodable bytes either
    assert "Traceback" not in text
    return text


@pytest.fixture
def hostile_server():
    with FakeOpenAI(models=[MODEL_ID]) as server:
        yield server


def test_an_answer_into_a_pipe_is_byte_exact(hostile_server):
    hostile_server.replies = [Reply(chunks=text_chunks(["ok ", PAYLOAD, " end"]))]
    out = gguf_tui_bytes("run", "--server", hostile_server.url, "--quiet", "hi")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"ok {PAYLOAD} end\n".encode()


def test_a_server_error_body_is_one_inert_error_line(hostile_server):
    hostile_server.replies = [Reply(status=500, body=json.dumps({"error": {"message": PAYLOAD}}))]
    out = gguf_tui_bytes("run", "--server", hostile_server.url, "hi")
    assert out.returncode != 0
    err = shown(out.stderr)
    assert "gguf-tui: error:" in err
    assert "[/x]␛]0;PWN-T0␇BELA" in err  # the body, neutralised
    assert foreign_controls(err) == []


def test_list_server_shows_hostile_ids_inert(hostile_server):
    out = gguf_tui_bytes("list", "--server", hostile_server.url)
    assert out.returncode == 0, out.stderr
    text = shown(out.stdout) + shown(out.stderr)
    assert "[/x][bold]␛]0;PWN-T0␇BELA" in text
    assert foreign_controls(text) == []
    as_json = gguf_tui_bytes("list", "--server", hostile_server.url, "--json")
    assert json.loads(as_json.stdout)[0]["id"] == MODEL_ID  # the data itself, exact
    assert foreign_controls(shown(as_json.stdout)) == []  # escaped, as JSON does


def test_the_chat_banner_and_answers_into_a_pipe(hostile_server):
    hostile_server.replies = [Reply(chunks=text_chunks([PAYLOAD]))]
    out = gguf_tui_bytes("chat", "--server", hostile_server.url, input=b"hi\nexit\n")
    assert out.returncode == 0, out.stderr
    err = shown(out.stderr)
    assert "][bold]␛]0;PWN-T0␇BELA" in err  # the banner names the model, neutralised
    assert foreign_controls(err) == []
    assert PAYLOAD.encode() in out.stdout  # the answer, exact


def test_list_shows_hostile_file_names_and_metadata_inert(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    write_tiny(folder / f"a{NAME_PAYLOAD}.gguf", **{"general.name": PAYLOAD})
    tiny_gguf(folder / "b.gguf", architecture=PAYLOAD, **{"general.size_label": PAYLOAD})
    (folder / f"c{NAME_PAYLOAD}.gguf").write_bytes(b"GGUF broken")  # listed with its reason
    out = gguf_tui_bytes("list", folder)
    assert out.returncode == 0, out.stderr
    text = shown(out.stdout) + shown(out.stderr)
    assert "a[bold]␛]0;PWN-T0␇BELA" in text
    assert foreign_controls(text) == []


def test_an_error_naming_a_hostile_file_is_inert(tmp_path):
    path = tmp_path / f"x{NAME_PAYLOAD}.gguf"
    path.write_bytes(b"not a model")
    out = gguf_tui_bytes("run", path, "hi")
    assert out.returncode == 2
    err = shown(out.stderr)
    assert err.startswith("gguf-tui: error:") and "x[bold]␛]0;PWN-T0␇BELA" in err
    assert foreign_controls(err) == []
