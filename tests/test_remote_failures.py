"""What a server can do wrong, played by a scripted loopback server, and what the
user is told. Also the parts of the protocol llama_cpp.server does not send:
reasoning deltas, `usage` and llama.cpp's `timings`."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from gguf_tui.engine import (
    LENGTH,
    STOP,
    STOPPED,
    Endpoint,
    Failed,
    Finished,
    ReasoningDelta,
    RemoteError,
    Sampling,
    TextDelta,
)
from gguf_tui.engine.remote.engine import RemoteEngine
from tests.support.fake_openai import FakeOpenAI, Reply, chunk, text_chunks

HELLO = ["Hello", " there", ", friend", "!"]


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def connect(fake, **endpoint_options) -> RemoteEngine:
    eng = RemoteEngine(Endpoint.parse(fake.url, api_key_env="", **endpoint_options))
    eng.load().result(10)
    return eng


def answer(fake, reply: Reply, sampling: Sampling | None = None, **endpoint_options):
    fake.replies.append(reply)
    with connect(fake, **endpoint_options) as eng:
        gen = eng.chat([{"role": "user", "content": "Hi"}], sampling)
        outcome = gen.result(15)
    return outcome


def answer_body(fake, sampling):
    answer(fake, Reply(), sampling)
    return fake.requests[-1]["json"]


def test_a_wrong_base_url_says_where_the_api_usually_is(fake):
    with (
        RemoteEngine(Endpoint.parse(fake.url.removesuffix("/v1") + "/api", api_key_env="")) as eng,
        pytest.raises(RemoteError, match=r"was not found .*under /v1") as exc,
    ):
        eng.load().result(10)
    assert exc.value.status == 404


def test_a_model_the_server_does_not_have(fake):
    body = json.dumps({"error": {"message": "The model `big-70b` does not exist."}})
    outcome = answer(fake, Reply(status=404, body=body))
    assert isinstance(outcome, Failed)
    assert "has no model 'Fake-7B-Instruct-Q4_K_M.gguf'" in outcome.message
    assert "gguf-tui list --server" in outcome.message


def test_rate_limits_and_busy_servers_say_when_to_try_again(fake):
    limited = answer(
        fake, Reply(status=429, body='{"error": "slow down"}', headers={"Retry-After": "7"})
    )
    assert isinstance(limited, Failed)
    assert "limiting requests (HTTP 429: slow down); try again in 7 s" in limited.message
    busy = answer(fake, Reply(status=503, body='{"error": {"message": "Loading model"}}'))
    assert "busy or still loading its model (HTTP 503: Loading model)" in busy.message


def test_a_slow_first_byte_times_out_with_a_clear_message(fake):
    started = time.monotonic()
    outcome = answer(fake, Reply(first_byte_delay=30), first_byte_timeout=0.5)
    assert time.monotonic() - started < 5
    assert isinstance(outcome, Failed) and not outcome.text
    assert "sent nothing for 0.5 s" in outcome.message
    assert "--first-byte-timeout" in outcome.message


def test_stop_while_the_server_is_still_reading_the_prompt_is_immediate(fake):
    fake.replies.append(Reply(first_byte_delay=30))
    with connect(fake) as eng:
        gen = eng.chat([{"role": "user", "content": "Hi"}])
        deadline = time.monotonic() + 5
        while not any(r["path"] == "/v1/chat/completions" for r in fake.requests):
            assert time.monotonic() < deadline, "the request never reached the server"
            time.sleep(0.01)
        asked = time.monotonic()  # the server has the request and is "reading the prompt"
        gen.stop()
        outcome = gen.result(5)
        assert time.monotonic() - asked < 1.0
        assert isinstance(outcome, Finished) and outcome.reason == STOPPED
        # The engine is free at once for the next question.
        assert eng.chat([{"role": "user", "content": "Hi"}]).result(5).text == "Hello there!"


def test_stop_mid_answer_closes_the_connection(fake):
    fake.replies.append(Reply(chunks=text_chunks(["word "] * 500), delay=0.01))
    with connect(fake) as eng:
        gen = eng.chat([{"role": "user", "content": "Hi"}])
        while not any(isinstance(e, TextDelta) for e in gen.wait(5)):
            pass
        gen.stop()
        outcome = gen.result(5)
    assert isinstance(outcome, Finished) and outcome.reason == STOPPED
    assert outcome.text.startswith("word ") and outcome.text.count("word") < 500
    assert fake.connections_closed.wait(5), "the server should see the client go away"


def test_a_stalled_answer_fails_and_keeps_what_arrived(fake):
    outcome = answer(fake, Reply(chunks=text_chunks(HELLO), stall_after=2), chunk_timeout=0.5)
    assert isinstance(outcome, Failed)
    assert outcome.text == "Hello there"
    assert "stopped sending for 0.5 s in the middle of the answer" in outcome.message


def test_a_connection_cut_mid_answer_keeps_the_partial_answer(fake):
    outcome = answer(fake, Reply(chunks=text_chunks(HELLO), cut_after=3))
    assert isinstance(outcome, Failed)
    assert outcome.text == "Hello there, friend"
    assert "lost in the middle of the answer" in outcome.message


def test_an_error_reported_mid_stream_keeps_the_partial_answer(fake):
    chunks = [chunk("Hello"), {"error": {"message": "out of memory", "code": 500}}]
    outcome = answer(fake, Reply(chunks=chunks))
    assert isinstance(outcome, Failed) and outcome.text == "Hello"
    assert "reported an error while answering: out of memory" in outcome.message


def test_an_empty_stream_is_reported_not_taken_for_an_answer(fake):
    outcome = answer(fake, Reply(chunks=[], done=False))
    assert isinstance(outcome, Failed) and "ended the stream without an answer" in outcome.message


def test_reasoning_arrives_as_reasoning_from_either_field_or_think_tags(fake):
    fields = [chunk(reasoning="Let me"), chunk(reasoning=" think."), *text_chunks(["Yes."])]
    tags = text_chunks(["<thi", "nk>Hmm", ", sure.</think>", "\n\nNo", "."])
    for script, thought, text in ((fields, "Let me think.", "Yes."), (tags, "Hmm, sure.", "No.")):
        fake.replies.append(Reply(chunks=script))
        with connect(fake) as eng:
            gen = eng.chat([{"role": "user", "content": "Hi"}])
            events = list(gen)
        reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
        outcome = events[-1]
        assert isinstance(outcome, Finished)
        assert reasoning == outcome.reasoning == thought
        assert outcome.text == text


def test_stats_use_usage_and_llama_cpp_timings_when_sent(fake):
    final = {
        "choices": [],
        "usage": {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129},
        "timings": {"prompt_n": 100, "prompt_ms": 250.0, "predicted_n": 9, "cache_n": 20},
    }
    outcome = answer(fake, Reply(chunks=[*text_chunks(HELLO, finish="length"), final], delay=0.02))
    assert isinstance(outcome, Finished) and outcome.reason == LENGTH
    stats = outcome.stats
    assert stats.prompt_tokens == 120 and stats.prompt_tokens_evaluated == 100
    assert stats.prompt_tokens_per_second == pytest.approx(400.0)
    assert stats.generated_tokens == 9
    assert stats.generation_seconds >= 0.05  # first to last delta, measured here
    assert stats.generation_tokens_per_second > 0
    assert "120 prompt tok" in stats.summary() and "prompt 400 tok/s" in stats.summary()


def test_without_usage_tokens_are_counted_from_deltas(fake):
    outcome = answer(fake, Reply(chunks=text_chunks(HELLO), delay=0.02))
    assert isinstance(outcome, Finished) and outcome.reason == STOP
    assert outcome.stats.generated_tokens == 4 and outcome.stats.prompt_tokens == 0
    assert "prompt" not in outcome.stats.summary()  # unknown, so not shown as 0


def test_sampling_goes_into_the_request(fake):
    sampling = Sampling(temperature=0.3, top_p=0.9, top_k=20, max_tokens=50, seed=4, stop=("##",))
    answer(fake, Reply(), sampling)
    answer(fake, Reply(), sampling, extra_sampling=False)
    full, plain = (r["json"] for r in fake.requests if r["path"] == "/v1/chat/completions")
    assert full["model"] == "Fake-7B-Instruct-Q4_K_M.gguf" and full["stream"] is True
    assert full["stream_options"] == {"include_usage": True}
    assert full["messages"] == [{"role": "user", "content": "Hi"}]
    assert (full["temperature"], full["top_p"], full["max_tokens"]) == (0.3, 0.9, 50)
    assert (full["seed"], full["stop"], full["top_k"]) == (4, ["##"], 20)
    assert "top_k" not in plain and "repeat_penalty" not in plain
    assert "seed" not in answer_body(fake, Sampling())  # no seed: the server draws one


def test_a_server_that_ignores_stream_answers_whole(fake):
    whole = {"choices": [{"message": {"content": "All at once."}, "finish_reason": "stop"}]}
    outcome = answer(fake, Reply(chunks=[whole], content_type="application/json"))
    assert isinstance(outcome, Finished) and outcome.text == "All at once."


def test_several_models_need_a_choice_and_a_name_picks_one(fake):
    fake.models = ["qwen2.5-7b-instruct", "llama-3.1-8b-instruct-q8_0"]
    with RemoteEngine(Endpoint.parse(fake.url, api_key_env="")) as eng:
        with pytest.raises(RemoteError, match="serves 2 models; choose one with --api-model"):
            eng.load().result(10)
        info = eng.load("llama-3.1-8b-instruct-q8_0").result(10)
        assert info.quant == "Q8_0" and info.model_file.endswith("/llama-3.1-8b-instruct-q8_0")
        assert eng.chat([{"role": "user", "content": "Hi"}]).result(5).text == "Hello there!"
    assert fake.requests[-1]["json"]["model"] == "llama-3.1-8b-instruct-q8_0"


def test_a_server_without_a_model_list_uses_the_name_given(fake):
    fake.models_status = 404
    endpoint = replace(Endpoint.parse(fake.url, api_key_env=""), model="my-model")
    with RemoteEngine(endpoint) as eng:
        info = eng.load().result(10)
        assert info.name == "my-model" and "does not list its models" in info.notes[0]


def test_the_key_is_sent_as_a_bearer_token_from_the_named_variable(monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "k-123")
    with FakeOpenAI(api_key="k-123") as fake:
        with RemoteEngine(Endpoint.parse(fake.url, api_key_env="MY_LLM_KEY")) as eng:
            eng.load().result(10)
            assert eng.chat([{"role": "user", "content": "Hi"}]).result(5).text == "Hello there!"
        assert all(r["headers"]["Authorization"] == "Bearer k-123" for r in fake.requests)


def test_a_raw_completion_streams_text_choices(fake):
    fake.replies.append(
        Reply(chunks=[{"choices": [{"text": t, "finish_reason": None}]} for t in ("a", "b")])
    )
    with connect(fake) as eng:
        outcome = eng.complete("x").result(5)
    assert isinstance(outcome, Finished) and outcome.text == "ab"
    assert fake.requests[-1]["path"] == "/v1/completions"
    assert fake.requests[-1]["json"]["prompt"] == "x"
