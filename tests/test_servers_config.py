"""Servers in config.toml and --server: what is accepted, what is refused and why."""

from __future__ import annotations

import tomllib

import pytest

from gguf_tui.config.servers import ServerConfigError, read_servers, resolve_server
from gguf_tui.config.settings import load_config, save_config
from gguf_tui.engine.remote.endpoint import Endpoint, EndpointError, normalise_url

CONFIG = """
server = "home"

[servers.home]
url = "http://192.168.1.20:8080/v1/"
model = "qwen2.5-7b-instruct"
api_key_env = "HOME_LLM_KEY"
first_byte_timeout = 120

[servers.cloud]
url = "https://api.example.com/v1"
extra_sampling = false

[servers.broken]
model = "x"

[servers.leaky]
url = "http://h:1/v1"
api_key = "sk-oops"
"""


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("http://host:8000/v1/", "http://host:8000/v1"),
        ("https://api.example.com", "https://api.example.com/v1"),
        ("http://proxy/api/v1", "http://proxy/api/v1"),
    ],
)
def test_urls_are_normalised(given, expected):
    assert normalise_url(given) == expected


@pytest.mark.parametrize("bad", ["", "ftp://host/v1", "http://"])
def test_unusable_urls_are_refused(bad):
    with pytest.raises(EndpointError):
        normalise_url(bad)


def test_servers_are_read_and_bad_entries_reported(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    table = read_servers(load_config(path).raw)
    assert table.default == "home"
    assert set(table.servers) == {"home", "cloud"}
    home = table.servers["home"]
    assert home.url == "http://192.168.1.20:8080/v1" and home.model == "qwen2.5-7b-instruct"
    assert home.api_key_env == "HOME_LLM_KEY" and home.first_byte_timeout == 120.0
    assert table.servers["cloud"].extra_sampling is False
    assert table.servers["cloud"].api_key_env == "OPENAI_API_KEY"
    problems = " | ".join(table.problems)
    assert "[servers.broken] has no url" in problems
    assert "[servers.leaky] has an api_key: keep keys out of config.toml" in problems


def test_the_server_tables_survive_saving_the_settings(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    config.settings.theme = "nord"
    save_config(config)
    saved = tomllib.loads(path.read_text())
    assert saved["servers"]["home"]["api_key_env"] == "HOME_LLM_KEY" and saved["theme"] == "nord"


def test_the_command_line_overrides_a_configured_server(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    table = read_servers(load_config(path).raw)
    ep = resolve_server("home", table, model="llama", api_key_env="K", first_byte_timeout=5)
    assert (ep.model, ep.api_key_env, ep.first_byte_timeout, ep.name) == ("llama", "K", 5.0, "home")
    assert resolve_server("127.0.0.5:8000", table).url == "http://127.0.0.5:8000/v1"
    with pytest.raises(ServerConfigError, match=r"no server named 'office'.*cloud, home"):
        resolve_server("office", table)
    with pytest.raises(ServerConfigError, match="more than 0"):
        resolve_server("home", table, first_byte_timeout=0)


def test_the_key_is_read_from_the_environment_only_when_needed(monkeypatch):
    ep = Endpoint.parse("127.0.0.1:1", api_key_env="SOME_KEY")
    monkeypatch.delenv("SOME_KEY", raising=False)
    assert ep.headers() == {}
    monkeypatch.setenv("SOME_KEY", "abc")
    assert ep.headers() == {"Authorization": "Bearer abc"}
    assert "abc" not in repr(ep)
