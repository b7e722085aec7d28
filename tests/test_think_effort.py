"""--think on a template that reads gpt-oss's `reasoning_effort` (low, medium, high):
an effort reaches the template, on keeps its default, off is its least effort ("low",
or "none" where the template names it). A tiny model llama.cpp really loads carries
the template, so the load's detection and the rendered prompt are the real ones."""

from __future__ import annotations

import pytest

from gguf_tui.config.settings import settings_from_dict
from gguf_tui.engine import Engine, Finished, LoadOptions, Sampling
from gguf_tui.engine.local.chat_format import (
    ENABLE_THINKING,
    NO_SWITCH,
    REASONING_EFFORT,
    think_switch,
)
from gguf_tui.engine.local.llama_model import LlamaModel
from tests.support.hostile_gguf import write_tiny

# gpt-oss's own way: a default effort of "medium", said in the system message.
GPT_OSS_LIKE = (
    "{%- if reasoning_effort is not defined %}{%- set reasoning_effort = 'medium' %}"
    "{%- endif %}"
    "{{- '<|start|>system<|message|>Reasoning: ' + reasoning_effort + '<|end|>' }}"
    "{%- for message in messages %}"
    "{{- '<|start|>' + message.role + '<|message|>' + message.content + '<|end|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start|>assistant' }}{%- endif %}"
)
ASK = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def gpt_oss_like(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("effort") / "Tiny-Effort-F32.gguf", GPT_OSS_LIKE)


@pytest.fixture(scope="module")
def model(gpt_oss_like):
    loaded = LlamaModel.load(gpt_oss_like, LoadOptions(n_ctx=512))
    yield loaded
    loaded.close()


def effort(model, think: str = "") -> str:
    text = model.tokenize_chat(ASK, think=think)[1].text
    return text.split("Reasoning: ", 1)[1].split("<|end|>", 1)[0]


def test_the_load_finds_the_reasoning_effort_switch(model):
    assert model.think_switch.variable == REASONING_EFFORT
    assert model.think_switch.off == "low"


def test_each_effort_changes_the_rendered_prompt(model):
    assert effort(model) == "medium"  # the template's default
    assert effort(model, "on") == "medium"  # on = the default, not a guess
    assert effort(model, "low") == "low"
    assert effort(model, "high") == "high"
    assert effort(model, "off") == "low"  # no off in gpt-oss: its least effort


def test_off_is_none_where_the_template_names_it():
    template = GPT_OSS_LIKE + "{%- if reasoning_effort == 'none' %}no reasoning{%- endif %}"
    switch = think_switch(template)
    assert switch.variable == REASONING_EFFORT and switch.off == "none"
    assert switch.variables("off") == {REASONING_EFFORT: "none"}


def test_which_switch_a_template_has():
    assert think_switch("{{ enable_thinking }}").variable == ENABLE_THINKING
    # An effort on an enable_thinking template is a kind of on.
    assert think_switch("{{ enable_thinking }}").variables("high") == {ENABLE_THINKING: True}
    assert think_switch("{{ enable_thinking }}").variables("off") == {ENABLE_THINKING: False}
    assert think_switch("{{ messages }}") is NO_SWITCH and not NO_SWITCH
    assert think_switch(None).variables("high") == {}
    assert think_switch("{{ my_reasoning_effort_x }}") is NO_SWITCH  # a whole name only


def test_config_and_a_conversations_form_take_the_efforts():
    from gguf_tui.tui.screens.settings import check_overrides

    settings, problems = settings_from_dict({"think": "high"})
    assert problems == [] and settings.think == "high"
    assert check_overrides({"think": "low"}) == ({"think": "low"}, {})  # f4
    assert check_overrides({"think": "default"}) == ({}, {})


def test_a_reply_at_high_effort_is_answered(gpt_oss_like):
    with Engine() as engine:
        engine.load(gpt_oss_like, LoadOptions(n_ctx=512)).result(60)
        gen = engine.chat(ASK, Sampling(temperature=0, seed=1, max_tokens=4, think="high"))
        for _ in gen:
            pass
        assert isinstance(gen.outcome, Finished)


def test_think_low_on_the_command_line(gpt_oss_like):
    from tests.support.cli import gguf_tui

    proc = gguf_tui(
        "run", gpt_oss_like, "Hello", "--think", "low", "--max-tokens", "4", "-c", "512"
    )
    assert proc.returncode == 0, proc.stderr
    proc = gguf_tui("run", gpt_oss_like, "Hello", "--think", "extreme")
    assert proc.returncode == 2 and "invalid choice: 'extreme'" in proc.stderr
