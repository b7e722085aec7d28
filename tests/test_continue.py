"""Continuing an answer: the model resumes the same assistant turn (real llama.cpp)."""

from __future__ import annotations

from gguf_tui.engine import LENGTH, Finished, Sampling
from gguf_tui.engine.local.chat_format import (
    GGUF_TEMPLATE_NAME,
    ChatFormatChoice,
    make_renderer,
)

TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
QUESTION = [{"role": "user", "content": "List the planets of the solar system, in order."}]


def test_a_conversation_ending_with_an_answer_renders_it_open():
    render = make_renderer(
        ChatFormatChoice(GGUF_TEMPLATE_NAME, "the file's"),
        {"tokenizer.chat_template": TEMPLATE},
        "",
        "",
    )
    partial = [*QUESTION, {"role": "assistant", "content": "Mercury, Venus"}]
    prompt = render(partial).text
    assert prompt == render(QUESTION).text + "Mercury, Venus"
    assert prompt.endswith("<|assistant|>Mercury, Venus")  # no end of turn: it goes on


def test_a_cut_answer_continued_reads_as_the_whole_answer(engine):
    greedy = Sampling(temperature=0.0, seed=1, max_tokens=40)
    whole = engine.chat(QUESTION, greedy).result(120)
    cut = engine.chat(QUESTION, Sampling(temperature=0.0, seed=1, max_tokens=12)).result(120)
    assert isinstance(cut, Finished) and cut.reason == LENGTH and cut.text
    rest = engine.chat(
        [*QUESTION, {"role": "assistant", "content": cut.text}],
        Sampling(temperature=0.0, seed=1, max_tokens=28),
    ).result(120)
    assert isinstance(rest, Finished) and rest.text
    assert not rest.text.startswith(cut.text)  # the new text only, not the answer again
    joined = cut.text + rest.text
    # Greedy: the continued answer is the answer the model would have written at once
    # (the prompt holds the cut text as text, re-tokenized: compare a good stretch).
    assert joined[:60] == whole.text[:60], (repr(cut.text), repr(rest.text), repr(whole.text))
