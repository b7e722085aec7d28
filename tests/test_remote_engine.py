"""RemoteEngine against a real server: llama-cpp-python's own, serving SmolLM2."""

from __future__ import annotations

import time

import pytest

from gguf_tui.engine import (
    LENGTH,
    STOP,
    STOPPED,
    Endpoint,
    Failed,
    Finished,
    RemoteError,
    Sampling,
    TextDelta,
)
from gguf_tui.engine.remote.engine import RemoteEngine
from gguf_tui.engine.remote.models import list_remote_models
from tests.support.llama_server import LlamaServer, free_port, require_server_extra

KEY = "test-key-7f3a"
KEY_ENV = "GGUF_TUI_TEST_SERVER_KEY"
GREEDY = Sampling(temperature=0.0, seed=1, max_tokens=40)
LONG = Sampling(temperature=0.8, seed=5, max_tokens=1500)


def ask(text, system="You are a helpful assistant."):
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


@pytest.fixture(scope="module")
def server(smollm_path):
    require_server_extra()
    with LlamaServer(smollm_path, api_key=KEY) as srv:
        yield srv


@pytest.fixture
def endpoint(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return Endpoint.parse(server.url, api_key_env=KEY_ENV)


@pytest.fixture
def remote(endpoint):
    with RemoteEngine(endpoint) as eng:
        eng.load().result(30)
        yield eng


def wait_for_text(gen, chars: int, seconds: float = 60.0) -> str:
    text = ""
    deadline = time.monotonic() + seconds
    while len(text) < chars:
        assert time.monotonic() < deadline, "no text arrived in time"
        for event in gen.wait(1.0):
            if isinstance(event, TextDelta):
                text += event.text
            assert not isinstance(event, Finished | Failed), f"ended early: {event}"
    return text


def test_a_server_answer_streams_like_a_local_one(remote, server):
    info = remote.info
    assert info.server == f"127.0.0.1:{server.port}"
    assert info.model_file == f"127.0.0.1:{server.port}/SmolLM2-135M-Instruct-Q4_1.gguf"
    assert info.quant == "Q4_1" and info.name == "SmolLM2-135M-Instruct-Q4_1"
    gen = remote.chat(ask("What is the capital of France?"), GREEDY)
    deltas = [e.text for e in gen if isinstance(e, TextDelta)]
    outcome = gen.outcome
    assert isinstance(outcome, Finished) and outcome.reason in (STOP, LENGTH)
    assert "Paris" in outcome.text
    assert "".join(deltas) == outcome.text
    assert len(deltas) > 3  # streamed, not delivered whole
    stats = outcome.stats
    assert stats.generated_tokens >= 4
    assert stats.generation_tokens_per_second > 0
    assert 0 < stats.time_to_first_token < stats.total_seconds


def test_stop_closes_the_stream_keeps_the_text_and_the_server_carries_on(remote):
    gen = remote.chat(ask("Write a very long story about a lighthouse keeper."), LONG)
    seen = wait_for_text(gen, 40)
    asked = time.monotonic()
    remote.stop()
    outcome = gen.result(10)
    assert time.monotonic() - asked < 2.0
    assert isinstance(outcome, Finished) and outcome.reason == STOPPED
    assert outcome.text.startswith(seen)
    assert outcome.stats.generated_tokens < 1500
    # The server noticed the disconnect and is free for the next question.
    again = remote.chat(ask("What is the capital of France?"), GREEDY).result(60)
    assert isinstance(again, Finished) and "Paris" in again.text


def test_raw_completion_uses_v1_completions(remote):
    outcome = remote.complete("The capital of France is", Sampling(temperature=0, max_tokens=8))
    result = outcome.result(60)
    assert isinstance(result, Finished) and result.text.strip()
    assert result.reason in (STOP, LENGTH)


def test_models_are_listed_and_chosen_by_id_or_file_name(endpoint, server):
    models = list_remote_models(endpoint)
    assert [m.short_id for m in models] == ["SmolLM2-135M-Instruct-Q4_1.gguf"]
    assert models[0].quant == "Q4_1"
    with RemoteEngine(endpoint) as eng:
        assert eng.load("SmolLM2-135M-Instruct-Q4_1").result(30).quant == "Q4_1"
        with pytest.raises(RemoteError, match=r"has no model 'llama-70b'.*SmolLM2"):
            eng.load("llama-70b").result(30)
        gen = eng.chat(ask("Hi"))
        assert isinstance(gen.result(10), Failed)  # the failed load left no model chosen


def test_a_missing_or_wrong_key_says_which_variable_to_set(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    endpoint = Endpoint.parse(server.url, api_key_env=KEY_ENV)
    with RemoteEngine(endpoint) as eng:
        with pytest.raises(RemoteError, match=rf"needs an API key.*\${KEY_ENV} is not set") as exc:
            eng.load().result(30)
        assert exc.value.status == 401
        monkeypatch.setenv(KEY_ENV, "wrong-key")
        with pytest.raises(RemoteError, match=rf"refused the API key in \${KEY_ENV}"):
            eng.load().result(30)


def test_a_server_that_is_down_is_a_clear_error():
    endpoint = Endpoint.parse(f"http://127.0.0.1:{free_port()}/v1", api_key_env="")
    with RemoteEngine(endpoint) as eng:
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"connection refused\. Is the server running"):
            eng.load().result(30)
        assert time.monotonic() - started < 5
        failed = eng.chat(ask("Hi")).result(5)
        assert isinstance(failed, Failed) and "no model is chosen" in failed.message


def test_a_server_killed_mid_answer_keeps_the_partial_answer(smollm_path, monkeypatch):
    require_server_extra()
    with LlamaServer(smollm_path) as srv, RemoteEngine(Endpoint.parse(srv.url)) as eng:
        eng.load().result(30)
        gen = eng.chat(ask("Write a very long story about a dragon."), LONG)
        seen = wait_for_text(gen, 40)
        srv.kill()
        outcome = gen.result(15)
    assert isinstance(outcome, Failed)
    assert "lost in the middle of the answer" in outcome.message
    assert outcome.text.startswith(seen) and len(outcome.text) >= 40
