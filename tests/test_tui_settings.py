"""The settings screens and config.toml: edits saved, unknown keys kept, broken files kept."""

from __future__ import annotations

import tomllib

from gguf_tui.config.settings import Settings, load_config, save_config
from tests.support.fake_engine import FakeEngine
from tests.support.tui import make_app, notifications, type_and_send, wait_idle, wait_until


def test_config_round_trip_keeps_unknown_keys(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '# my settings\ntemperature = 0.3\nfuture_option = "keep me"\n\n'
        '[servers.lab]\nurl = "http://lab:8080/v1"\n\n[keymap]\nnew_chat = "ctrl+t"\n'
    )
    config = load_config(path)
    assert config.settings.temperature == 0.3
    assert config.settings.keymap == {"new_chat": "ctrl+t"}
    config.settings.top_k = 12
    save_config(config)
    data = tomllib.loads(path.read_text())
    assert data["future_option"] == "keep me"
    assert data["servers"]["lab"]["url"] == "http://lab:8080/v1"
    assert (data["temperature"], data["top_k"]) == (0.3, 12)
    assert load_config(path).settings.top_k == 12


def test_a_broken_config_is_reported_with_its_line_and_never_overwritten(tmp_path):
    path = tmp_path / "config.toml"
    text = "temperature = 0.3\ntop_k = = 5\n"
    path.write_text(text)
    config = load_config(path)
    assert config.broken and config.settings == Settings()
    assert "line 2" in config.problems[0]
    try:
        save_config(config)
    except Exception as exc:  # refused, with a reason
        assert "untouched" in str(exc)
    assert path.read_text() == text


def test_a_wrong_value_keeps_its_default_and_says_so(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('temperature = "hot"\ntop_k = 7\n')
    config = load_config(path)
    assert config.settings.temperature == Settings().temperature and config.settings.top_k == 7
    assert "'temperature' should be a float" in config.problems[0]


async def test_the_app_starts_with_a_broken_config_and_shows_the_problem(tmp_path, monkeypatch):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("n_ctx = [oops\n")
    monkeypatch.setenv("GGUF_TUI_CONFIG_DIR", str(config_dir))
    app = make_app(tmp_path / "data", engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "not valid TOML" in notifications(app))
        await type_and_send(pilot, "still works")
        await wait_idle(pilot)
    assert (config_dir / "config.toml").read_text() == "n_ctx = [oops\n"


async def test_settings_screen_saves_and_applies(tmp_path, monkeypatch):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("custom_key = 1\n")
    monkeypatch.setenv("GGUF_TUI_CONFIG_DIR", str(config_dir))
    engine = FakeEngine()
    app = make_app(tmp_path / "data", engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f10")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "FormScreen")
        app.screen.query_one("#field-temperature").value = "0.25"
        app.screen.query_one("#field-system_prompt").value = "Answer in French."
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")
        assert app.sampling.temperature == 0.25
        await type_and_send(pilot, "hello")
        await wait_idle(pilot)
    messages, sampling = engine.requests[-1]
    assert sampling.temperature == 0.25
    assert messages[0] == {"role": "system", "content": "Answer in French."}
    saved = tomllib.loads((config_dir / "config.toml").read_text())
    assert saved["custom_key"] == 1 and saved["temperature"] == 0.25


async def test_conversation_settings_override_and_show_in_the_header(tmp_path):
    engine = FakeEngine()
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "first")
        await wait_idle(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "FormScreen")
        app.screen.query_one("#field-temperature").value = "0.1"
        app.screen.query_one("#field-system_prompt").value = "Be terse."
        app.screen.query_one("#field-seed").value = "42"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")
        header = str(app.chat_screen.query_one("#conversation-header").render())
        assert "own settings" in header and "temperature 0.1" in header
        await type_and_send(pilot, "second")
        await wait_idle(pilot)
        messages, sampling = engine.requests[-1]
        assert (sampling.temperature, sampling.seed) == (0.1, 42)
        assert messages[0] == {"role": "system", "content": "Be terse."}
        # Another conversation keeps the app's settings.
        await pilot.press("ctrl+n")
        await type_and_send(pilot, "elsewhere")
        await wait_idle(pilot)
        assert engine.requests[-1][1].temperature == app.sampling.temperature


async def test_the_loaded_models_own_settings_are_saved_as_its_profile(
    tmp_path, monkeypatch, smollm_path
):
    """f10 → "This model's settings…": saved as [models."NAME"], the rest of the file kept
    as written, and applied from the next load on."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("# mine\nn_ctx = 2048  # why\n")
    monkeypatch.setenv("GGUF_TUI_CONFIG_DIR", str(config_dir))
    app = make_app(tmp_path / "data", model_path=smollm_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the model")
        await pilot.press("f10")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "FormScreen")
        await pilot.click("#extra")
        await wait_until(pilot, lambda: "Settings of" in str(app.screen.title_text))
        app.screen.query_one("#field-cache_type_k").value = "q9"
        await pilot.press("ctrl+s")
        problem = app.screen.query_one("#problem-cache_type_k")
        await wait_until(pilot, lambda: "should be one of" in str(problem.render()))
        app.screen.query_one("#field-cache_type_k").value = "q8_0"
        app.screen.query_one("#field-n_ctx").value = "1024"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")
        assert app.load_options.profiles, (
            notifications(app),
            (config_dir / "config.toml").read_text(),
        )
    text = (config_dir / "config.toml").read_text()
    assert text.startswith("# mine\nn_ctx = 2048  # why\n")
    saved = tomllib.loads(text)
    assert saved["models"] == {"SmolLM2-135M-Instruct": {"n_ctx": 1024, "cache_type_k": "q8_0"}}
