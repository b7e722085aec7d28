"""An OpenAI-compatible server as a hostile peer, in process: every body the app reads is
capped, every request has a deadline, a broken chunk keeps the answer, credentials in a
URL never show. The limits asserted here are the ones docs/remote.md states.

The same peers against the command line and the full-screen app, as a user meets them:
tests/test_hostile_server_cli.py and tests/terminal/test_hostile_server.py.
"""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from gguf_tui.engine import Endpoint, Failed, Finished, RemoteError
from gguf_tui.engine.remote import models as remote_models
from gguf_tui.engine.remote import stream as remote_stream
from gguf_tui.engine.remote.endpoint import redact
from gguf_tui.engine.remote.engine import RemoteEngine
from gguf_tui.engine.remote.guard import cut_all
from gguf_tui.engine.remote.models import list_remote_models
from tests.support.fake_openai import (
    FakeOpenAI,
    Reply,
    big_deltas,
    chunk,
    drip,
    endless,
    giant_delta,
    gzip_bomb,
)

MiB = 2**20


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def endpoint(fake, **options) -> Endpoint:
    return Endpoint.parse(fake.url, api_key_env="", **options)


def listing(fake, within: float, **options):
    """list_remote_models, and how long it took; fails the test past `within` seconds."""
    started = time.monotonic()
    try:
        return list_remote_models(endpoint(fake, **options)), time.monotonic() - started
    finally:
        assert time.monotonic() - started < within


def refused_listing(fake, within: float, match: str) -> str:
    started = time.monotonic()
    with pytest.raises(RemoteError, match=match) as exc:
        list_remote_models(endpoint(fake))
    assert time.monotonic() - started < within, time.monotonic() - started
    return str(exc.value)


def answer(fake, reply: Reply, within: float = 15.0, **options) -> Finished | Failed:
    fake.replies.append(reply)
    started = time.monotonic()
    with RemoteEngine(endpoint(fake, **options)) as eng:
        eng.load().result(10)
        outcome = eng.chat([{"role": "user", "content": "Hi"}]).result(within + 5)
    assert time.monotonic() - started < within, time.monotonic() - started
    return outcome


def sse(*items) -> bytes:
    return b"".join(
        b"data: " + (i if isinstance(i, bytes) else json.dumps(i).encode()) + b"\n\n" for i in items
    )


def body(data: bytes):
    return lambda: iter([data])


# -- credentials in the URL -------------------------------------------------------------------
def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(fake):
    ep = Endpoint.parse(fake.url.replace("://", "://alice:s3cr%40t@"), api_key_env="")
    for shown in (ep.url, ep.host, ep.label, repr(ep), ep.api("models")):
        assert "s3cr" not in shown and "alice" not in shown
    with RemoteEngine(ep) as eng:
        info = eng.load().result(10)
        outcome = eng.chat([{"role": "user", "content": "Hi"}]).result(10)
    assert isinstance(outcome, Finished)
    assert "s3cr" not in info.model_file and "alice" not in info.model_file
    sent = fake.requests[-1]["headers"]["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"alice:s3cr@t").decode()


def test_a_refused_password_says_so_without_quoting_it(fake):
    fake.api_key = "the-real-key"
    ep = Endpoint.parse(fake.url.replace("://", "://bob:hunter2@"), api_key_env="")
    with pytest.raises(RemoteError, match="refused the user name and password") as exc:
        list_remote_models(ep)
    assert "hunter2" not in str(exc.value)


def test_a_dead_server_with_credentials_is_named_without_them():
    ep = Endpoint.parse("http://carol:pa55@127.0.0.1:9/v1", api_key_env="")
    with pytest.raises(RemoteError) as exc:
        list_remote_models(ep)
    assert "pa55" not in str(exc.value) and "carol" not in str(exc.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see http://u:pw@h:8080/v1 now", "see http://h:8080/v1 now"),
        ("'u:p@ss@h/v1' is not", "'h/v1' is not"),
        ("--server u:pw@10.0.0.1:8080", "--server 10.0.0.1:8080"),
        ("https://tok@h/v1", "https://h/v1"),
        ("mail me@example.com", "mail me@example.com"),
        ("https://h/v1?q=a@b", "https://h/v1?q=a@b"),
    ],
)
def test_redact_removes_the_userinfo_of_every_url(text, expected):
    assert redact(text) == expected


# -- bounded memory: the model list --------------------------------------------------------
def test_an_endless_model_list_is_cut_at_its_cap(fake):
    fake.models_reply = Reply(source=endless(), content_type="application/json")
    message = refused_listing(fake, 10, "over 4 MiB")
    assert "stopped reading" in message


def test_a_gzip_bomb_model_list_is_cut_at_its_cap(fake):
    fake.models_reply = Reply(
        source=gzip_bomb(), content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    refused_listing(fake, 10, "over 4 MiB")


def test_a_broken_gzip_model_list_is_one_clear_error(fake):
    fake.models_reply = Reply(
        source=body(b"\x1f\x8bnot gzip at all" * 100),
        content_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )
    refused_listing(fake, 10, "could not be decoded")


def test_a_redirect_loop_on_the_model_list_is_one_clear_error(fake):
    fake.models_reply = Reply(status=302, source=body(b""), headers={"Location": "/v1/models"})
    refused_listing(fake, 10, "redirected the model list in a loop")


@pytest.mark.parametrize(
    "payload",
    [
        b"<html><body>Welcome to nginx</body></html>",
        b"[" * 200_000 + b"]" * 200_000,  # nesting too deep for the JSON parser
        b'{"data": "not a list"}',
        b"\xff\xfe not utf-8",
    ],
    ids=["html", "deep", "wrong-type", "bad-utf8"],
)
def test_a_model_list_that_is_no_model_list_is_one_clear_error(fake, payload):
    fake.models_reply = Reply(source=body(payload), content_type="application/json")
    refused_listing(fake, 10, "did not answer with a model list")


def test_absurd_figures_in_a_model_list_are_ignored(fake):
    entries = [
        {"id": "a", "max_model_len": float("inf"), "meta": {"n_params": float("nan")}},
        {"id": "b", "max_model_len": -5, "meta": {"size": 1e300, "n_ctx_train": True}},
    ]
    data = json.dumps({"data": entries}).encode()  # Python writes inf/nan as Infinity/NaN
    fake.models_reply = Reply(source=body(data), content_type="application/json")
    models, _ = listing(fake, 10)
    assert [(m.id, m.n_ctx, m.n_params, m.size_bytes, m.n_ctx_train) for m in models] == [
        ("a", 0, 0, 0, 0),
        ("b", 0, 0, 0, 0),
    ]


# -- bounded time: the model list ----------------------------------------------------------
def test_a_model_list_sent_one_byte_at_a_time_ends_at_its_deadline(fake, monkeypatch):
    monkeypatch.setattr(remote_models, "LIST_TIMEOUT", 2.0)
    fake.models_reply = Reply(source=drip(), delay=0.5, content_type="application/json")
    refused_listing(fake, 4, r"did not list its models within 2 s")


def test_closing_the_backend_cuts_a_model_list_in_flight_at_once(fake):
    fake.models_reply = Reply(source=drip(), delay=0.5, content_type="application/json")
    eng = RemoteEngine(endpoint(fake))
    load = eng.load()
    time.sleep(0.5)  # the request is in flight: nothing to wait for, its reply never comes
    started = time.monotonic()
    eng.close()
    assert time.monotonic() - started < 1.0
    with pytest.raises(RemoteError, match="cancelled"):
        load.result(2)


def test_cut_all_ends_every_request_in_flight(fake):
    fake.models_reply = Reply(source=drip(), delay=0.5, content_type="application/json")
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            list_remote_models(endpoint(fake))
        except RemoteError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while sum(r["path"] == "/v1/models" for r in fake.requests) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    started = time.monotonic()
    assert cut_all() == 3
    for t in threads:
        t.join(2)
    assert time.monotonic() - started < 1.0
    assert len(errors) == 3 and all("cancelled" in str(e) for e in errors)


# -- bounded memory and clear errors: an answer ------------------------------------------------
def test_an_endless_error_body_is_read_to_its_cap_and_named(fake):
    outcome = answer(fake, Reply(status=500, source=endless(), content_type="text/plain"), 10)
    assert isinstance(outcome, Failed)
    assert "HTTP 500" in outcome.message and "64 KiB" in outcome.message
    assert "sent nothing" not in outcome.message


def test_an_error_body_sent_one_byte_at_a_time_is_not_waited_for(fake, monkeypatch):
    monkeypatch.setattr(remote_stream, "ERROR_BODY_SECONDS", 1.0)
    reply = Reply(status=502, source=drip(b"Bad gateway" * 100), delay=0.3)
    outcome = answer(fake, reply, 6)
    assert isinstance(outcome, Failed) and "HTTP 502" in outcome.message


def test_a_200_with_an_html_page_is_not_a_lost_connection(fake):
    page = b"<!doctype html><html><body><h1>Sign in</h1></body></html>"
    outcome = answer(fake, Reply(source=body(page), content_type="text/html"), 10)
    assert isinstance(outcome, Failed)
    assert "text/html" in outcome.message and "not a stream of answer events" in outcome.message
    assert "lost" not in outcome.message


def test_one_giant_event_is_cut_at_the_event_cap_and_the_text_before_it_kept(fake):
    before = sse(chunk("Kept text. "))
    giant = giant_delta(50 * MiB)

    def source():
        yield before
        yield from giant()

    outcome = answer(fake, Reply(source=source), 20)
    assert isinstance(outcome, Failed)
    assert "one event over 1 MiB" in outcome.message
    assert outcome.text == "Kept text. "


def test_an_answer_is_cut_at_its_cap_and_what_fitted_is_kept(fake):
    outcome = answer(fake, Reply(source=big_deltas(200, 256 * 1024)), 30)
    assert isinstance(outcome, Failed)
    assert "passed 1 MiB" in outcome.message
    assert len(outcome.text) == remote_stream.ANSWER_MAX_CHARS


def test_a_gzip_bomb_stream_is_cut_at_the_event_cap(fake):
    reply = Reply(source=gzip_bomb(), headers={"Content-Encoding": "gzip"})
    outcome = answer(fake, reply, 15)
    assert isinstance(outcome, Failed) and "over 1 MiB" in outcome.message


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (b'{"choices": [{"delta": "just a string"}]}', "'delta' is not a JSON object"),
        (b'{"choices": {"0": 1}}', "'choices' is not a list"),
        (b'{"choices": [{"delta": {"content": 42}}]}', "not a string"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b"this is not json at all", "not JSON"),
    ],
    ids=["delta-str", "choices-dict", "content-int", "list", "not-json"],
)
def test_a_malformed_chunk_keeps_what_arrived_and_says_what_was_wrong(fake, bad, said):
    data = sse(chunk("Hello"), chunk(" there"), bad, chunk(" never"))
    outcome = answer(fake, Reply(source=body(data)), 10)
    assert isinstance(outcome, Failed)
    assert outcome.text == "Hello there"
    assert "not part of an answer" in outcome.message and said in outcome.message


@pytest.mark.parametrize("value", ["Infinity", "NaN", "-Infinity", "1e999", "-3"])
def test_absurd_usage_figures_keep_the_answer(fake, value):
    usage = (
        b'{"choices": [], "usage": {"prompt_tokens": %s, "completion_tokens": %s}, '
        b'"timings": {"prompt_ms": %s, "predicted_n": %s}}'
    ) % ((value.encode(),) * 4)
    data = sse(chunk("Hello"), chunk(" there", finish="stop"), usage, b"[DONE]")
    outcome = answer(fake, Reply(source=body(data)), 10)
    assert isinstance(outcome, Finished), outcome
    assert outcome.text == "Hello there"
    assert outcome.stats.generated_tokens == 2  # counted here instead
    assert outcome.stats.prompt_tokens == 0


def test_a_whole_json_answer_that_is_no_completion_is_one_clear_error(fake):
    reply = Reply(source=body(b'{"choices": "nope"}'), content_type="application/json")
    outcome = answer(fake, reply, 10)
    assert isinstance(outcome, Failed) and "not a chat completion" in outcome.message


def test_a_stream_sent_one_byte_at_a_time_ends_at_the_first_byte_deadline(fake):
    reply = Reply(source=drip(sse(chunk("Hello"))), delay=0.5)
    outcome = answer(fake, reply, 6, first_byte_timeout=2.0)
    assert isinstance(outcome, Failed)
    assert "answered but sent no complete event within 2 s" in outcome.message


def test_stop_cuts_an_endless_answer_at_once(fake):
    fake.replies.append(Reply(source=big_deltas(10**6, 1000)))
    with RemoteEngine(endpoint(fake)) as eng:
        eng.load().result(10)
        gen = eng.chat([{"role": "user", "content": "Hi"}])
        assert gen.wait(10)  # the answer is streaming
        started = time.monotonic()
        gen.stop()
        outcome = gen.result(5)
        assert time.monotonic() - started < 0.5
    assert isinstance(outcome, Finished) and outcome.reason == "stopped"
