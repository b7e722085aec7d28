"""Per-model profiles: config.toml's [models."NAME"] tables of load and sampling settings,
applied on every load of the model and every switch between its quantizations; the
command line and a conversation's own settings win."""

from __future__ import annotations

from pathlib import Path

from gguf_tui.config.options import load_options, sampling
from gguf_tui.config.settings import LoadedConfig, Settings, load_config, save_config
from gguf_tui.engine.options import LoadOptions, Sampling, profile_names, with_profile
from tests.support.tui import make_app, wait_until
from tests.test_tui_switch import GREEDY, choose_quant

SMOL = "SmolLM2-135M-Instruct"
PROFILE_TOML = f"""n_ctx = 2048
temperature = 0.8

[models."{SMOL}"]
n_ctx = 1024
cache_type_k = "q8_0"
temperature = 0.2

[models."Qwen3-8B"]
n_ctx = 32768
"""


def config_with_profiles(tmp_path: Path) -> LoadedConfig:
    path = tmp_path / "config.toml"
    path.write_text(PROFILE_TOML, encoding="utf-8")
    return load_config(path)


def test_a_profile_is_read_and_applies_to_every_quantization_of_its_model(tmp_path):
    config = config_with_profiles(tmp_path)
    assert config.problems == []
    options = load_options(config.settings)
    for quant in ("Q4_K_M", "Q8_0", "IQ4_NL"):
        mine = with_profile(options, Path(f"/m/{SMOL}-{quant}.gguf"))
        assert (mine.n_ctx, mine.cache_type_k) == (1024, "q8_0")
        assert (
            with_profile(sampling(config.settings), Path(f"/m/{SMOL}-{quant}.gguf")).temperature
            == 0.2
        )
    other = with_profile(options, Path("/m/gemma-3-270m-q4_k_m.gguf"))
    assert (other.n_ctx, other.cache_type_k) == (2048, "f16")


def test_a_hub_repo_names_a_profile_too():
    path = Path("/hf/hub/models--unsloth--Qwen3-8B-GGUF/snapshots/abc/Qwen3-8B-UD-Q4_K_XL.gguf")
    assert {"unsloth/qwen3-8b-gguf", "qwen3-8b-gguf"} <= profile_names(path)


def test_the_command_line_and_a_conversation_win_over_the_profile(tmp_path):
    settings = config_with_profiles(tmp_path).settings
    path = Path(f"/m/{SMOL}-Q8_0.gguf")
    given = with_profile(load_options(settings, n_ctx=4096), path)
    assert (given.n_ctx, given.cache_type_k) == (4096, "q8_0")  # --n-ctx 4096 wins
    # A conversation's own settings replace the app's values before the engine applies
    # the profile: what they changed stays theirs.
    from dataclasses import replace

    conv = with_profile(replace(load_options(settings), n_ctx=3072), path)
    assert conv.n_ctx == 3072
    conv_sampling = with_profile(replace(sampling(settings), temperature=1.3), path)
    assert conv_sampling.temperature == 1.3
    assert with_profile(sampling(settings, temperature=0.5), path).temperature == 0.5


def test_a_bad_profile_value_is_reported_and_the_rest_applies(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        f'[models."{SMOL}"]\nn_ctx = "big"\ntheme = "nord"\ncache_type_v = "q8_0"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert len(config.problems) == 2
    assert any("'n_ctx' should be an int" in p for p in config.problems)
    assert any("'theme' cannot be set per model" in p for p in config.problems)
    assert config.settings.models == {SMOL: {"cache_type_v": "q8_0"}}


def test_saving_other_settings_keeps_the_profiles_as_written(tmp_path):
    config = config_with_profiles(tmp_path)
    config.settings.temperature = 0.6
    save_config(config)
    text = config.path.read_text(encoding="utf-8")
    assert "temperature = 0.6" in text
    assert PROFILE_TOML.split("\n\n", 1)[1] in text  # the tables, line for line


async def test_a_profile_applies_after_a_quant_switch(ladder, tmp_path):
    settings = Settings(n_ctx=2048, models={SMOL: {"n_ctx": 1024, "cache_type_k": "q8_0"}})
    folder = str(ladder["Q4_K_M"].parent)
    app = make_app(
        tmp_path,
        model_path=ladder["Q4_K_M"],
        sampling=GREEDY,
        extra_model_dirs=[folder],
        load_options=load_options(settings),
    )
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the first model")
        assert app.engine.info.n_ctx == 1024
        await choose_quant(pilot, app, "Q8_0")
        await wait_until(
            pilot, lambda: app.engine.info.quant == "Q8_0" and not app.models.loading, 60
        )
        assert app.engine.info.n_ctx == 1024  # the profile, not the app's 2048
        assert "ctx 0/1,024" in app.chat_screen.query_one("StatusLine").line


def test_options_without_profiles_are_left_as_they_are():
    options = LoadOptions(n_ctx=777)
    assert with_profile(options, Path("/m/x.gguf")) is options
    assert with_profile(Sampling(), Path("/m/x.gguf")) == Sampling()


def test_saving_a_profile_replaces_only_its_own_table(tmp_path):
    from gguf_tui.config.profiles import save_profile

    config = config_with_profiles(tmp_path)
    save_profile(config, SMOL, {"n_ctx": 1536})
    text = config.path.read_text(encoding="utf-8")
    assert text.startswith("n_ctx = 2048\ntemperature = 0.8\n")
    assert '[models."Qwen3-8B"]\nn_ctx = 32768\n' in text
    assert load_config(config.path).settings.models[SMOL] == {"n_ctx": 1536}
    save_profile(config, SMOL, {})  # every field emptied: the table goes
    assert SMOL not in config.path.read_text(encoding="utf-8")
    assert load_config(config.path).settings.models == {"Qwen3-8B": {"n_ctx": 32768}}
