"""`run`, `chat`, `list` and the app with --server, run as a user would: subprocesses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.cli import gguf_tui
from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks
from tests.support.llama_server import LlamaServer, free_port, require_server_extra

GREEDY = ["--temperature", "0", "--seed", "1", "--max-tokens", "40"]
SYSTEM = ["--system", "You are a helpful assistant."]


@pytest.fixture(scope="module")
def server(smollm_path):
    require_server_extra()
    with LlamaServer(smollm_path) as srv:
        yield srv


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def config_file() -> Path:
    path = Path(os.environ["GGUF_TUI_CONFIG_DIR"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_run_answers_from_a_server(server):
    out = gguf_tui(
        "run", "--server", server.url, "What is the capital of France?", *GREEDY, *SYSTEM
    )
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout
    assert "tok/s" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_run_raw_and_stdin_through_a_server(server):
    out = gguf_tui("run", "--server", server.url, "--raw", *GREEDY, input="Once upon a time")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_line_chat_through_a_server_keeps_the_history(server, tmp_path):
    history = tmp_path / "history.json"
    out = gguf_tui(
        "chat",
        "--server",
        server.url,
        "-o",
        history,
        *GREEDY,
        *SYSTEM,
        input="What is the capital of France?\nbye\n",
    )
    assert out.returncode == 0, out.stderr
    assert f"on 127.0.0.1:{server.port}" in out.stderr  # the banner names the server
    assert "Paris" in out.stdout
    saved = json.loads(history.read_text())
    assert [m["role"] for m in saved] == ["system", "user", "assistant"]
    assert "Paris" in saved[-1]["content"]


def test_list_shows_what_a_server_serves(server):
    out = gguf_tui("list", "--server", server.url)
    assert out.returncode == 0, out.stderr
    assert "SmolLM2-135M-Instruct-Q4_1.gguf" in out.stdout and "Q4_1" in out.stdout
    data = json.loads(gguf_tui("list", "--server", server.url, "--json").stdout)
    assert data[0]["quant"] == "Q4_1" and data[0]["server"] == server.url


def test_a_server_that_is_down_is_one_clear_line():
    url = f"http://127.0.0.1:{free_port()}/v1"
    for argv in (["run", "--server", url, "hi"], ["chat", "--server", url], ["--server", url]):
        out = gguf_tui(*argv, input="")
        assert out.returncode == 2, (argv, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "connection refused" in lines[0], (argv, out.stderr)
    listed = gguf_tui("list", "--server", url)
    assert listed.returncode == 2 and "connection refused" in listed.stderr


def test_a_missing_key_tells_which_option_to_use(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI(api_key="k-9") as fake:
        out = gguf_tui("run", "--server", fake.url, "hi")
        assert out.returncode == 2
        assert "needs an API key" in out.stderr and "--api-key-env" in out.stderr
        ok = gguf_tui("run", "--server", fake.url, "--api-key-env", "K9", "hi", env={"K9": "k-9"})
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == "Hello there!"


def test_a_server_named_in_the_config_file(fake):
    config_file().write_text(
        f'[servers.lab]\nurl = "{fake.url}"\nmodel = "Fake-7B-Instruct-Q4_K_M"\n'
        'api_key_env = "LAB_KEY"\n'
    )
    out = gguf_tui("run", "--server", "lab", "hi", env={"LAB_KEY": "secret-1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Hello there!"
    posted = [r for r in fake.requests if r["path"] == "/v1/chat/completions"]
    assert posted[0]["json"]["model"] == "Fake-7B-Instruct-Q4_K_M.gguf"
    assert posted[0]["headers"]["Authorization"] == "Bearer secret-1"
    unknown = gguf_tui("run", "--server", "nowhere", "hi")
    assert unknown.returncode == 2 and "no server named 'nowhere'" in unknown.stderr


def test_the_default_server_answers_when_no_model_is_given(fake):
    config_file().write_text(f'server = "lab"\n\n[servers.lab]\nurl = "{fake.url}"\n')
    out = gguf_tui("run", "--quiet", input="hi")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Hello there!"


def test_a_positional_model_is_the_servers_model_id(fake):
    fake.models = ["a-Q4_K_M", "b-Q8_0"]
    out = gguf_tui("run", "--server", fake.url, "b-Q8_0", "hi")
    assert out.returncode == 0, out.stderr
    assert fake.requests[-1]["json"]["model"] == "b-Q8_0"
    both = gguf_tui("run", "--server", fake.url, "--api-model", "a-Q4_K_M", "b-Q8_0", "hi")
    assert both.returncode == 2 and "not both" in both.stderr


def test_line_chat_keeps_a_cut_off_answer_marked(fake, tmp_path):
    fake.replies.append(Reply(chunks=text_chunks(["Hello", " there", ", friend"]), cut_after=2))
    history = tmp_path / "h.json"
    out = gguf_tui("chat", "--server", fake.url, "-o", history, input="Hi\nbye\n")
    assert out.returncode == 0, out.stderr
    assert "assistant: Hello there [cut off]" in out.stdout
    assert "lost in the middle of the answer" in out.stderr
    saved = json.loads(history.read_text())
    assert saved[-1] == {"role": "assistant", "content": "Hello there"}
