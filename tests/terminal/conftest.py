"""Fixtures for the real-terminal tests: a fresh home per test."""

from __future__ import annotations

import pytest

from tests.terminal.harness import Home


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home")
