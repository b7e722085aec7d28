"""Switching quantization mid-conversation, on the real quantization ladder."""

from __future__ import annotations

import time

from gguf_tui.engine import LoadOptions, Sampling
from tests.support.tui import (
    make_app,
    notifications,
    screen_text,
    type_and_send,
    wait_idle,
    wait_until,
)

GREEDY = Sampling(temperature=0, seed=1, max_tokens=24)


def on_q4_k_m(ladder, tmp_path, sampling, **kwargs):
    """The app on the ladder's Q4_K_M, its siblings beside it."""
    folder = str(ladder["Q4_K_M"].parent)
    return make_app(
        tmp_path,
        model_path=ladder["Q4_K_M"],
        sampling=sampling,
        extra_model_dirs=[folder],
        **kwargs,
    )


def switcher_open(app) -> bool:
    return app.screen.__class__.__name__ == "QuantSwitcher"


async def choose_quant(pilot, app, quant: str) -> None:
    await pilot.press("f3")
    await wait_until(pilot, lambda: switcher_open(app) and app.screen.choices, what="siblings")
    app.screen.query_one("#quant-filter").value = quant.lower()
    await wait_until(pilot, lambda: len(app.screen.shown) == 1)
    await pilot.press("enter")


async def test_switch_from_q4_k_m_to_q8_0_mid_conversation(ladder, tmp_path):
    app = on_q4_k_m(ladder, tmp_path, GREEDY, load_options=LoadOptions(n_ctx=2048))
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the first model")
        await type_and_send(pilot, "What is the capital of France?")
        await wait_idle(pilot)
        await choose_quant(pilot, app, "Q8_0")
        await wait_until(
            pilot, lambda: app.engine.info.quant == "Q8_0" and not app.models.loading, 60
        )
        await type_and_send(pilot, "And the capital of Italy?")
        await wait_idle(pilot)
        messages = app.store.messages(app.chat_screen.conversation_id)
        answers = [m for m in messages if m.role == "assistant"]
        assert [a.quant for a in answers] == ["Q4_K_M", "Q8_0"]
        assert [a.model_file for a in answers] == [
            "SmolLM2-135M-Instruct-Q4_K_M.gguf",
            "SmolLM2-135M-Instruct-Q8_0.gguf",
        ]
        # The conversation was read into Q8_0's context on the switch: the second
        # answer only had to read the new question.
        assert answers[1].stats["prompt_tokens_evaluated"] < answers[1].stats["prompt_tokens"] / 2
        text = screen_text(app)
        assert "Q4_K_M.gguf · Q4_K_M" in text and "Q8_0.gguf · Q8_0" in text


async def test_escape_cancels_a_switch_and_keeps_the_old_model(ladder, tmp_path):
    app = on_q4_k_m(ladder, tmp_path, GREEDY)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the first model")
        real_load = app.engine.load

        def slow_load(path, options=None, progress=None):
            def slowed(fraction: float) -> bool:
                time.sleep(0.02)  # a big model: loading takes a while
                return progress(fraction)

            return real_load(path, options, slowed)

        app.engine.load = slow_load
        await choose_quant(pilot, app, "Q8_0")
        await wait_until(pilot, lambda: app.models.loading, what="the switch to start")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.models.loading, 60, "the cancel")
        assert app.engine.info.quant == "Q4_K_M"
        assert "still using" in notifications(app)
        await type_and_send(pilot, "Hello?")
        await wait_idle(pilot)
        assert app.store.messages(app.chat_screen.conversation_id)[-1].quant == "Q4_K_M"


async def test_compare_two_quantizations_on_one_prompt(ladder, tmp_path):
    app = on_q4_k_m(ladder, tmp_path, Sampling(temperature=0.7, max_tokens=24))
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the first model")
        await type_and_send(pilot, "Name a famous painter.")
        await wait_idle(pilot)
        cid = app.chat_screen.conversation_id
        original = app.store.messages(cid)[-1]
        assert original.stats["seed"] is not None  # recorded, so it can be replayed

        await pilot.press("ctrl+k")
        await wait_until(pilot, lambda: switcher_open(app) and app.screen.choices)
        app.screen.query_one("#quant-filter").value = "q8_0"
        await wait_until(pilot, lambda: len(app.screen.shown) == 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "CompareScreen")
        compare = app.screen
        await wait_until(pilot, lambda: compare.new_answer is not None, 60, "the second answer")
        new = compare.new_answer
        assert new.quant == "Q8_0" and new.content
        assert new.stats["seed"] == original.stats["seed"]
        text = screen_text(app)
        assert "tok/s" in text and "Q4_K_M" in text and "Q8_0" in text

        await pilot.press("2")  # keep the Q8_0 answer
        await wait_until(pilot, lambda: app.store.messages(cid)[-1].quant == "Q8_0")
        messages = app.store.messages(cid)
        assert [m.role for m in messages] == ["user", "assistant"]
        assert messages[-1].content == new.content
        assert app.engine.info.quant == "Q8_0"  # the conversation continues with it


async def test_keeping_the_original_answer_goes_back_to_its_model(ladder, tmp_path):
    app = on_q4_k_m(ladder, tmp_path, GREEDY)
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the first model")
        await type_and_send(pilot, "Name a colour.")
        await wait_idle(pilot)
        cid = app.chat_screen.conversation_id
        original = app.store.messages(cid)[-1]
        await pilot.press("ctrl+k")
        await wait_until(pilot, lambda: switcher_open(app) and app.screen.choices)
        app.screen.query_one("#quant-filter").value = "iq4"
        await wait_until(pilot, lambda: len(app.screen.shown) == 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "CompareScreen")
        await wait_until(pilot, lambda: app.screen.new_answer is not None, 60)
        await pilot.press("1")
        await wait_until(
            pilot, lambda: app.engine.info.quant == "Q4_K_M" and not app.models.loading, 60
        )
        assert app.store.messages(cid)[-1] == original


def test_quant_option_picks_a_sibling_or_says_what_exists(ladder, tmp_path):
    import argparse

    from gguf_tui.commands import common
    from gguf_tui.commands.app import with_quant

    ctx = common.open_context(argparse.Namespace(data_dir=str(tmp_path), verbose=False))
    args = argparse.Namespace(models_dir=[])
    assert with_quant(ladder["Q4_K_M"], "q8_0", ctx, args) == ladder["Q8_0"]
    try:
        with_quant(ladder["Q4_K_M"], "Q2_K", ctx, args)
    except common.CliError as exc:
        assert "no Q2_K" in str(exc) and "Q8_0" in str(exc)
    else:
        raise AssertionError("a missing quantization must be an error")
