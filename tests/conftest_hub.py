"""Fixtures for tests that need the Hub: a loopback FakeHub serving the real test models.

Load it from a test module with `pytest_plugins = ["tests.conftest_hub"]`.
"""

from __future__ import annotations

import pytest

from tests.support.fake_hub import GATED_REPO, LADDER_REPO, N_PARAMS, README, SPLIT_REPO, FakeHub


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """Point huggingface_hub's settings at a temporary cache, online, no token."""
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("GGUF_TUI_HUB_TIMEOUT", "10")
    for key in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    return home


@pytest.fixture
def fake_hub(ladder, sharded_path, hub_env, monkeypatch):
    """A FakeHub with the ladder repo, a split repo and a gated repo; HF_ENDPOINT points at it."""
    hub = FakeHub(page_size=4)  # small pages, so the client must follow the Link header
    files = {f"SmolLM2-135M-Instruct-{q}.gguf": p for q, p in ladder.items()}
    hub.add_repo(LADDER_REPO, {**files, "README.md": README}, n_params=N_PARAMS, downloads=900)
    shards = sorted(sharded_path.parent.glob("*.gguf"))
    hub.add_repo(SPLIT_REPO, {f"Q4_1/{p.name}": p for p in shards}, downloads=50)
    hub.add_repo(
        GATED_REPO,
        {"SmolLM2-135M-Instruct-Q3_K_S.gguf": ladder["Q3_K_S"]},
        gated=True,
        downloads=10,
    )
    hub.start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    yield hub
    hub.close()
