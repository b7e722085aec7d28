"""Launching by `REPO:QUANT`: the real command downloads from a (loopback) Hub, then chats."""

from __future__ import annotations

from tests.terminal.harness import Home, launched

pytest_plugins = ["tests.conftest_hub"]


def test_launch_by_repo_and_quant_downloads_then_chats_and_relaunches_offline(tmp_path, fake_hub):
    from tests.support.fake_hub import LADDER_REPO

    online = {"HF_ENDPOINT": fake_hub.url, "HF_HUB_OFFLINE": "0"}
    home = Home(tmp_path / "home", extra_env=online)
    with launched(home, f"{LADDER_REPO}:Q4_K_M", cols=120, rows=40) as term:
        term.wait_for(lambda s: "· Q4_K_M │" in s and "loading" not in s, 180, "the model")
        term.type_line("Hello!")
        term.wait_for("tok/s ·", 120, "the answer")
        assert term.quit() == 0
    assert home.sent() == ["Hello!"]
    # Offline from now on: the same spec is served from the Hugging Face cache.
    fake_hub.close()
    home.extra_env = {"HF_HUB_OFFLINE": "1"}
    with launched(home, f"{LADDER_REPO}:Q4_K_M") as term:
        term.wait_for(lambda s: "· Q4_K_M │" in s and "loading" not in s, 120, "the cached model")
        assert term.quit() == 0
