"""The picker's Servers view: models of OpenAI-compatible servers beside local ones."""

from __future__ import annotations

import pytest

from tests.support.tui import make_app, screen_text, type_and_send, wait_idle, wait_until

pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server] (the test extra)")

from tests.support.llama_server import LlamaServer


@pytest.fixture(scope="module")
def server(smollm_path):
    with LlamaServer(smollm_path) as running:
        yield running


async def test_a_configured_server_lists_its_models_and_one_can_be_used(
    server, smollm_path, tmp_path, monkeypatch
):
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text(
        f'[servers.lab]\nurl = "{server.url}"\n\n[servers.gone]\nurl = "http://127.0.0.1:9/v1"\n'
    )
    monkeypatch.setenv("GGUF_TUI_CONFIG_DIR", str(config))
    app = make_app(tmp_path / "data", extra_model_dirs=[str(smollm_path.parent)])
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ModelPicker")
        await pilot.press("ctrl+r")
        servers = app.screen.query_one("ServerModels")
        await wait_until(pilot, lambda: len(servers.models) == 2, 30, "both servers to answer")
        text = screen_text(app)
        assert "lab" in text and "SmolLM2-135M-Instruct-Q4_1" in text
        assert "gone" in text  # a dead server is a row with its reason, not a crash
        table = servers.query_one("#server-table")
        table.move_cursor(row=next(i for i, m in enumerate(servers.models) if m is not None))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen", 60)
        assert app.engine.info.server
        await type_and_send(pilot, "Say hello.")
        await wait_idle(pilot)
        answer = app.store.messages(app.chat_screen.conversation_id)[-1]
        assert answer.content and answer.model_file.startswith(app.engine.info.server)

        # And back to a model on this machine.
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ModelPicker")
        await wait_until(pilot, lambda: len(app.screen.query_one("LocalModels").shown) >= 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen", 60)
        assert app.engine.info is not None and not app.engine.info.server
