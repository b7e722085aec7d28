"""The docs keep up with the code: every setting and every key binding is documented."""

from dataclasses import fields
from pathlib import Path

from gguf_tui.config.settings import SETTING_HELP, Settings
from gguf_tui.tui.keymap import APP_ACTIONS, CHAT_ACTIONS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_in_the_configuration_reference():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for f in fields(Settings):
        assert f"`{f.name}`" in text, f.name
        assert f.name in SETTING_HELP, f.name


def test_every_key_binding_is_in_the_docs():
    text = "".join(
        (DOCS / name).read_text(encoding="utf-8")
        for name in ("chatting.md", "switching.md", "configuration.md")
    )
    for action in (*CHAT_ACTIONS, *APP_ACTIONS):
        first_key = action.keys.split(",")[0]
        assert f"`{first_key}`" in text, f"{action.id} ({first_key})"
