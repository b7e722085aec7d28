import pytest

from gguf_tui.engine.local.chat_format import (
    ARCHITECTURE,
    GGUF_TEMPLATE_NAME,
    OVERRIDE,
    TEMPLATE,
    ChatFormatError,
    choose_chat_format,
)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"general.architecture": "gemma3"}, "gemma"),
        ({"general.architecture": "gemma"}, "gemma"),
        ({"general.architecture": "qwen2"}, "chatml"),
        ({"general.architecture": "qwen3moe"}, "chatml"),
        ({"general.architecture": "llama", "tokenizer.ggml.model": "gpt2"}, "llama-3"),
        ({"general.architecture": "llama", "tokenizer.ggml.model": "llama"}, "llama-2"),
        ({"general.architecture": "llama", "general.name": "Mistral 7B"}, "mistral-instruct"),
        ({"general.architecture": "phi3"}, "chatml"),
        ({"general.architecture": "somethingnew"}, "chatml"),
    ],
)
def test_format_from_architecture(metadata, expected):
    choice = choose_chat_format(metadata)
    assert (choice.name, choice.source) == (expected, ARCHITECTURE)
    assert "no chat template" in choice.note


def test_template_wins_and_is_silent():
    choice = choose_chat_format({"general.architecture": "gemma3", "tokenizer.chat_template": "x"})
    assert (choice.name, choice.source, choice.note) == (GGUF_TEMPLATE_NAME, TEMPLATE, "")


def test_override():
    choice = choose_chat_format({"tokenizer.chat_template": "x"}, "Gemma")
    assert (choice.name, choice.source) == ("gemma", OVERRIDE)


def test_unknown_override_lists_known_formats():
    with pytest.raises(ChatFormatError, match=r"unknown chat format 'nope'.*chatml"):
        choose_chat_format({}, "nope")
