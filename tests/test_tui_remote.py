"""The chat screen answered by a server: the same screen, a different backend."""

from __future__ import annotations

import pytest

from gguf_tui.config.settings import load_state
from gguf_tui.engine import Endpoint, Sampling
from gguf_tui.engine.remote.engine import RemoteEngine
from tests.support.fake_openai import FakeOpenAI, Reply, text_chunks
from tests.support.llama_server import LlamaServer, require_server_extra
from tests.support.tui import make_app, notifications, screen_text, type_and_send, wait_idle


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def remote(fake):
    with RemoteEngine(Endpoint.parse(fake.url, api_key_env="")) as eng:
        eng.load().result(10)
        yield eng


async def test_a_server_answer_is_shown_saved_and_labelled_with_the_server(fake, remote, tmp_path):
    fake.replies.append(
        Reply(chunks=text_chunks(["The moon", " is", " far", " away."]), delay=0.02)
    )
    app = make_app(tmp_path, engine=remote)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Tell me about the moon.")
        await wait_idle(pilot)
        cid = app.chat_screen.conversation_id
        answer = app.store.messages(cid)[-1]
        assert answer.content == "The moon is far away." and answer.finish_reason == "stop"
        assert answer.model_file == f"127.0.0.1:{fake.port}/Fake-7B-Instruct-Q4_K_M.gguf"
        assert answer.quant == "Q4_K_M"
        seen = screen_text(app)
        assert "The moon is far away." in seen
        assert f"@ 127.0.0.1:{fake.port}" in seen and "tok/s" in seen
        # Opening the conversation again offers no model switch: this model wrote it.
        app.models.offer_conversation_model(cid)
        await pilot.pause()
        assert "last answered by" not in notifications(app)
    assert "last_model" not in load_state(app.paths)  # a model id is not a file to reopen
    assert remote.info is not None  # the borrowed backend is left open for its owner


async def test_a_cut_answer_keeps_its_text_and_says_what_happened(fake, remote, tmp_path):
    fake.replies.append(Reply(chunks=text_chunks(["Half", " an", " answer", "…"]), cut_after=3))
    app = make_app(tmp_path, engine=remote)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Hi")
        await wait_idle(pilot)
        answer = app.store.messages(app.chat_screen.conversation_id)[-1]
        assert answer.content == "Half an answer" and answer.finish_reason == "stopped"
        seen = screen_text(app)
        assert "Half an answer" in seen and "lost in the middle of the answer" in seen


async def test_the_app_chats_with_llama_cpp_server(smollm_path, tmp_path):
    require_server_extra()
    with LlamaServer(smollm_path) as srv, RemoteEngine(Endpoint.parse(srv.url)) as eng:
        eng.load().result(30)
        app = make_app(tmp_path, engine=eng, sampling=Sampling(temperature=0, max_tokens=40))
        async with app.run_test(size=(120, 40)) as pilot:
            await type_and_send(pilot, "What is the capital of France?")
            await wait_idle(pilot)
            answer = app.store.messages(app.chat_screen.conversation_id)[-1]
            assert "Paris" in answer.content
            assert answer.stats["generated_tokens"] > 0
            assert answer.model_file.endswith("/SmolLM2-135M-Instruct-Q4_1.gguf")
