"""Shared fixtures: real models (see tests/support/models.py) and a loaded engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import models

# No test may reach the live Hub, and none may read the developer's own settings.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GGUF_TUI_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("GGUF_TUI_CONFIG_DIR", str(home / "config"))
    # The developer's own Hugging Face cache must not leak into scans.
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hf" / "hub"))


@pytest.fixture(scope="session")
def smollm_path() -> Path:
    return models.smollm()


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    return models.gemma()


@pytest.fixture(scope="session")
def ladder() -> dict[str, Path]:
    return models.ladder()


@pytest.fixture(scope="session")
def sharded_path() -> Path:
    return models.sharded()


@pytest.fixture(scope="session")
def broken() -> dict[str, Path]:
    return models.broken_files()


@pytest.fixture(scope="module")
def engine(smollm_path):
    """One engine with SmolLM2 loaded, shared by a test module (loading costs ~0.5 s)."""
    from gguf_tui.engine import Engine, LoadOptions

    eng = Engine()
    eng.load(smollm_path, LoadOptions(n_ctx=2048)).result(timeout=120)
    yield eng
    eng.close()
