"""A conversation's own load settings (f4): n_ctx, KV-cache types, flash attention.

The rule (chat/context.py): the model in use is reloaded when a conversation sets a
value it was not loaded with; what the conversation leaves empty is the app's (or the
model profile's) setting, and a quantized V cache with flash attention off is compared
as llama.cpp will load it (on), so it never reloads twice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gguf_tui.chat.context import (
    conversation_load_options,
    describe_load_settings,
    own_load_settings,
)
from gguf_tui.engine.model_info import ModelInfo
from gguf_tui.engine.options import LoadOptions, with_profile
from gguf_tui.tui.screens.settings import CONVERSATION_KEYS, check_overrides
from gguf_tui.tui.widgets.status import StatusLine

PATH = Path("/models/SmolLM2-135M-Instruct-Q4_1.gguf")


def loaded(**changes) -> ModelInfo:
    values = dict(
        model_id=PATH.name,
        path=PATH,
        name="SmolLM2-135M-Instruct",
        architecture="llama",
        quant="Q4_1",
        n_params=135_000_000,
        size_bytes=98_000_000,
        n_ctx=4096,
        n_ctx_train=8192,
        chat_format=None,
        n_layers=30,
        gpu_layers=0,
        gpu_supported=False,
        n_threads=2,
        load_seconds=1.0,
        kv_types=("f16", "f16"),
        flash_attn_mode="auto",
        flash_attn=False,
    )
    values.update(changes)
    return ModelInfo(**values)


def test_no_own_load_setting_never_reloads():
    assert conversation_load_options({}, LoadOptions(), loaded()) is None
    assert conversation_load_options({"temperature": 0.1}, LoadOptions(), loaded()) is None


def test_own_kv_types_reload_once_then_hold():
    own = {"cache_type_k": "q8_0", "cache_type_v": "q8_0"}
    options = conversation_load_options(own, LoadOptions(n_ctx=2048), loaded())
    assert options is not None
    assert options.kv_types == ("q8_0", "q8_0") and options.n_ctx == 2048  # the rest: app's
    after = loaded(kv_types=("q8_0", "q8_0"))
    assert conversation_load_options(own, LoadOptions(n_ctx=2048), after) is None


def test_only_what_the_conversation_sets_is_compared():
    # Loaded with q4_0 keys for another conversation: one that sets only V keeps them.
    model = loaded(kv_types=("q4_0", "q8_0"), flash_attn_mode="on")
    assert conversation_load_options({"cache_type_v": "q8_0"}, LoadOptions(), model) is None
    assert conversation_load_options({"cache_type_k": "f16"}, LoadOptions(), model) is not None


def test_a_quantized_v_cache_with_flash_attention_off_is_compared_as_loaded():
    """llama.cpp needs flash attention for a quantized V cache: the load turns it on
    (check_cache_options, with its note), and the rule compares 'on', not 'off'."""
    own = {"cache_type_v": "q8_0", "flash_attn": "off"}
    options = conversation_load_options(own, LoadOptions(), loaded())
    assert options is not None and options.flash_attn == "off"  # the load says it turns it on
    after = loaded(kv_types=("f16", "q8_0"), flash_attn_mode="on", flash_attn=True)
    assert conversation_load_options(own, LoadOptions(), after) is None
    assert conversation_load_options({"flash_attn": "off"}, LoadOptions(), loaded()) is not None


def test_a_bad_saved_value_is_left_out_and_the_apps_holds():
    own = {"cache_type_k": "q9", "flash_attn": True, "n_ctx": "big", "cache_type_v": 8}
    assert own_load_settings(own) == {}
    assert conversation_load_options(own, LoadOptions(), loaded()) is None


def test_the_conversation_beats_the_models_profile_for_what_it_sets():
    profiles = (("smollm2-135m-instruct", (("cache_type_k", "q4_0", "f16"),
                                           ("n_ctx", 1024, 4096))),)  # fmt: skip
    base = LoadOptions(profiles=profiles)
    options = conversation_load_options({"cache_type_k": "f16"}, base, loaded(n_ctx=1024,
                                        kv_types=("q4_0", "f16")))  # fmt: skip
    assert options is not None
    applied = with_profile(options, PATH)
    assert applied.cache_type_k == "f16"  # the conversation's
    assert applied.n_ctx == 1024  # the profile's, where the conversation says nothing


def test_the_reload_says_what_it_is_for():
    own = {"n_ctx": 2048, "cache_type_k": "q8_0", "cache_type_v": "q8_0"}
    options = replace(LoadOptions(), **own)
    assert describe_load_settings(options, own) == ("a context of 2048 tokens, KV cache q8_0/q8_0")


def test_the_form_takes_llama_cpps_names_and_default():
    assert {"cache_type_k", "cache_type_v", "flash_attn", "think"} <= set(CONVERSATION_KEYS)
    got, problems = check_overrides(
        {"cache_type_k": "q8_0", "cache_type_v": "default", "flash_attn": "on", "n_ctx": ""}
    )
    assert problems == {} and got == {"cache_type_k": "q8_0", "flash_attn": "on"}
    _, problems = check_overrides({"cache_type_v": "q9", "flash_attn": "maybe"})
    assert "should be one of f32, f16, bf16, q8_0" in problems["cache_type_v"]
    assert "auto, off, on" in problems["flash_attn"]


def test_the_status_line_shows_a_kv_cache_other_than_f16():
    status = StatusLine()
    status.model = loaded(kv_types=("q8_0", "q8_0"))
    assert "KV q8_0 │" in status.fitted(200) or status.fitted(200).endswith("KV q8_0")
    status.model = loaded(kv_types=("q8_0", "q4_0"))
    assert "KV q8_0/q4_0" in status.fitted(200)
    status.model = loaded()
    assert "KV" not in status.fitted(200)
    status.model = loaded(kv_types=("q8_0", "q8_0"))
    assert "KV" not in status.fitted(40)  # left out first when the line is short


async def test_in_the_app_a_conversations_kv_types_reload_once_and_others_keep_them(
    smollm_path, tmp_path
):
    """Pilot: sending in a conversation with its own q8_0 K/V reloads the model with them
    (once: the next send does not reload); a conversation without its own types takes
    the model as it is loaded, as for n_ctx."""
    from gguf_tui.engine import Sampling
    from tests.support.tui import make_app, type_and_send, wait_idle, wait_until

    app = make_app(
        tmp_path,
        model_path=smollm_path,
        sampling=Sampling(temperature=0, seed=1, max_tokens=6),
        load_options=LoadOptions(n_ctx=1024),
    )
    loads: list[LoadOptions] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the model")
        original = app.models.load

        async def counted(path, options=None):
            loads.append(options or app.load_options)
            return await original(path, options)

        app.models.load = counted  # type: ignore[method-assign]
        screen = app.chat_screen
        await type_and_send(pilot, "Hello.")
        await wait_idle(pilot)
        assert loads == [] and app.engine.info.kv_types == ("f16", "f16")
        own = {"cache_type_k": "q8_0", "cache_type_v": "q8_0"}
        app.store.set_conversation_settings(screen.conversation_id, own)
        await type_and_send(pilot, "Again.")
        await wait_idle(pilot)
        assert [o.kv_types for o in loads] == [("q8_0", "q8_0")]
        assert loads[0].n_ctx == 1024  # the app's, for what the conversation leaves
        assert app.engine.info.kv_types == ("q8_0", "q8_0")
        assert "KV q8_0" in screen.status.line
        await type_and_send(pilot, "Once more.")
        await wait_idle(pilot)
        assert len(loads) == 1  # loaded with them already
        await pilot.press("ctrl+n")
        await type_and_send(pilot, "A new chat.")
        await wait_idle(pilot)
        assert len(loads) == 1 and app.engine.info.kv_types == ("q8_0", "q8_0")


async def test_an_f3_switch_keeps_the_conversations_kv_types(ladder, tmp_path):
    """f3 in a conversation with its own types loads the other file with them: its
    next message needs no second load."""
    from tests.support.tui import type_and_send, wait_idle, wait_until
    from tests.test_tui_switch import GREEDY, choose_quant, on_q4_k_m

    app = on_q4_k_m(ladder, tmp_path, GREEDY, load_options=LoadOptions(n_ctx=1024))
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the first model")
        screen = app.chat_screen
        await type_and_send(pilot, "Hello.")
        await wait_idle(pilot)
        own = {"cache_type_k": "q8_0", "cache_type_v": "q4_0"}
        app.store.set_conversation_settings(screen.conversation_id, own)
        await choose_quant(pilot, app, "Q8_0")
        await wait_until(
            pilot, lambda: app.engine.info.quant == "Q8_0" and not app.models.loading, 60
        )
        assert app.engine.info.kv_types == ("q8_0", "q4_0")
        assert "KV q8_0/q4_0" in screen.status.line
        loaded = app.engine.info
        await type_and_send(pilot, "Again.")
        await wait_idle(pilot)
        assert app.engine.info is loaded  # no reload before this answer
