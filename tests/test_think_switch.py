"""--think on|off: the template's enable_thinking (Qwen3 and its kind), on a tiny model
llama.cpp really loads, whose template is Qwen3's own switch."""

from __future__ import annotations

import pytest

from gguf_tui.config.options import sampling
from gguf_tui.config.settings import Settings, settings_from_dict
from gguf_tui.engine import Engine, Finished, LoadOptions, Sampling
from gguf_tui.engine.local.llama_model import LlamaModel
from tests.support.hostile_gguf import write_tiny

# The end of Qwen3's chat template: the generation prompt, then an empty reasoning block
# when thinking is switched off.
QWEN3_LIKE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}"
)
ASK = [{"role": "user", "content": "Hello"}]
EMPTY_THINK = "<think>\n\n</think>"


@pytest.fixture(scope="module")
def qwen3_like(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("think") / "Tiny-Think-F32.gguf", QWEN3_LIKE)


@pytest.fixture(scope="module")
def model(qwen3_like):
    loaded = LlamaModel.load(qwen3_like, LoadOptions(n_ctx=512))
    yield loaded
    loaded.close()


def test_think_off_changes_the_rendered_prompt(model):
    assert model.think_switch
    _, default = model.tokenize_chat(ASK)
    _, on = model.tokenize_chat(ASK, think="on")
    _, off = model.tokenize_chat(ASK, think="off")
    assert EMPTY_THINK not in default.text and EMPTY_THINK not in on.text
    assert off.text.endswith("<|im_start|>assistant\n" + EMPTY_THINK + "\n\n")


def test_a_template_without_the_switch_is_left_as_it_is(smollm_path):
    plain = LlamaModel.load(smollm_path, LoadOptions(n_ctx=512))
    try:
        assert not plain.think_switch
        assert plain.tokenize_chat(ASK, think="off")[1].text == plain.tokenize_chat(ASK)[1].text
    finally:
        plain.close()


def test_a_reply_with_think_off_is_answered(qwen3_like):
    with Engine() as engine:
        engine.load(qwen3_like, LoadOptions(n_ctx=512)).result(60)
        gen = engine.chat(ASK, Sampling(temperature=0, seed=1, max_tokens=4, think="off"))
        for _ in gen:
            pass
        assert isinstance(gen.outcome, Finished)


def test_config_and_command_line_take_on_and_off():
    settings, problems = settings_from_dict({"think": "off"})
    assert problems == [] and sampling(settings).think == "off"
    assert sampling(settings, think="on").think == "on"
    _, problems = settings_from_dict({"think": "maybe"})
    assert (
        problems and "should be one of \"\", on, off, low, medium, high, not 'maybe'" in problems[0]
    )
    assert sampling(Settings()).think == ""


def test_think_off_on_the_command_line(qwen3_like):
    from tests.support.cli import gguf_tui

    proc = gguf_tui("run", qwen3_like, "Hello", "--think", "off", "--max-tokens", "4", "-c", "512")
    assert proc.returncode == 0, proc.stderr
    proc = gguf_tui("run", qwen3_like, "Hello", "--think", "maybe")
    assert proc.returncode == 2 and "invalid choice: 'maybe'" in proc.stderr
