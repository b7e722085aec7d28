"""llama.cpp's load options: KV-cache types, flash attention, batch sizes, mmap/mlock.

On the real SmolLM2: each choice loads and answers, and llama.cpp's own account of the
cache it allocated matches the estimate the picker and f3 show."""

from __future__ import annotations

import pytest

from gguf_tui.config.options import load_options
from gguf_tui.config.settings import Settings, settings_from_dict
from gguf_tui.engine import Engine, EngineError, Finished, LoadOptions, Sampling
from gguf_tui.engine.local.llama_model import LlamaModel
from gguf_tui.engine.local.load_params import check_cache_options
from gguf_tui.engine.options import GPU_LAYERS_AUTO
from gguf_tui.models.gguf_file import read_header
from gguf_tui.models.memory import estimate_memory, kv_bytes_per_token
from tests.support.cli import gguf_tui

GREEDY = Sampling(temperature=0.0, seed=1, max_tokens=16)
ASK = [{"role": "user", "content": "What is the capital of France?"}]
N_CTX = 2048


def answer(engine: Engine) -> str:
    gen = engine.chat(ASK, GREEDY)
    for _ in gen:
        pass
    assert isinstance(gen.outcome, Finished), gen.outcome
    return gen.outcome.text


@pytest.fixture(scope="module")
def engine():
    eng = Engine()
    yield eng
    eng.close()


@pytest.mark.parametrize("cache_type", ["q8_0", "q4_0"])
def test_a_quantized_kv_cache_loads_and_answers(engine, smollm_path, cache_type):
    options = LoadOptions(n_ctx=N_CTX, cache_type_k=cache_type, cache_type_v=cache_type)
    info = engine.load(smollm_path, options).result(120)
    assert info.notes == ()  # auto flash attention: llama.cpp turns it on for a quantized V
    assert answer(engine).strip()


@pytest.mark.parametrize("mode", ["on", "off", "auto"])
def test_each_flash_attention_mode_loads_and_answers(engine, smollm_path, mode):
    engine.load(smollm_path, LoadOptions(n_ctx=N_CTX, flash_attn=mode)).result(120)
    assert answer(engine).strip()


def test_quantized_v_with_flash_attention_off_turns_it_on_and_says_so(engine, smollm_path):
    options = LoadOptions(n_ctx=N_CTX, cache_type_v="q8_0", flash_attn="off")
    info = engine.load(smollm_path, options).result(120)
    assert any("needs flash attention, so it is on" in note for note in info.notes)
    assert answer(engine).strip()


def test_llama_cpp_allocates_the_estimated_cache(smollm_path):
    """The KV cache llama.cpp reports is the estimate's, per type: q8_0 takes 34/64 of f16."""
    meta = read_header(smollm_path, tensors=False).metadata
    sizes = {}
    for kind in ("f16", "q8_0", "q4_0"):
        model = LlamaModel.load(
            smollm_path, LoadOptions(n_ctx=N_CTX, cache_type_k=kind, cache_type_v=kind)
        )
        try:
            assert model.flash_attn  # auto resolves to on for this CPU build
            sizes[kind] = model.kv_cache_bytes
        finally:
            model.close()
        expected = N_CTX * kv_bytes_per_token(meta, kind, kind)
        assert sizes[kind] == pytest.approx(expected, rel=0.01)
        estimate = estimate_memory(1 << 20, N_CTX, kv_bytes_per_token(meta), kv_types=(kind, kind))
        assert estimate.kv_cache == pytest.approx(expected, rel=0.01)
    assert sizes["q8_0"] < 0.55 * sizes["f16"]
    assert sizes["q4_0"] < 0.3 * sizes["f16"]


def test_batch_sizes_no_mmap_and_mlock_load_and_answer(engine, smollm_path):
    options = LoadOptions(n_ctx=N_CTX, n_batch=256, n_ubatch=128, use_mmap=False, use_mlock=True)
    engine.load(smollm_path, options).result(120)
    assert answer(engine).strip()


def test_unknown_cache_type_is_refused_by_name():
    with pytest.raises(EngineError, match=r"not a KV cache type llama\.cpp knows"):
        check_cache_options(LoadOptions(cache_type_k="q3_k"))
    with pytest.raises(EngineError, match="should be one of auto, off, on"):
        check_cache_options(LoadOptions(flash_attn="yes"))


def test_config_toml_takes_the_options_and_refuses_other_values():
    settings, problems = settings_from_dict(
        {
            "cache_type_k": "q8_0",
            "cache_type_v": "q4_0",
            "flash_attn": "on",
            "n_gpu_layers": "auto",
            "n_batch": 1024,
            "n_ubatch": 256,
            "use_mmap": False,
            "use_mlock": True,
        }
    )
    assert problems == []
    options = load_options(settings)
    assert options.kv_types == ("q8_0", "q4_0")
    assert options.flash_attn == "on"
    assert options.n_gpu_layers == GPU_LAYERS_AUTO
    assert (options.n_batch, options.n_ubatch, options.use_mmap, options.use_mlock) == (
        1024,
        256,
        False,
        True,
    )
    _, problems = settings_from_dict(
        {"cache_type_v": "q9", "flash_attn": "maybe", "n_gpu_layers": "most", "n_batch": 0}
    )
    assert len(problems) == 4
    assert any("one of f32, f16, bf16, q8_0" in p for p in problems)
    assert any('"auto" or a whole number' in p for p in problems)


def test_the_command_line_wins_over_config_toml():
    settings = Settings(cache_type_k="q4_0", flash_attn="off", n_gpu_layers=12)
    options = load_options(settings, cache_type_k="q8_0", flash_attn="auto", n_gpu_layers="auto")
    assert (options.cache_type_k, options.flash_attn) == ("q8_0", "auto")
    assert options.n_gpu_layers == GPU_LAYERS_AUTO
    assert load_options(settings).n_gpu_layers == 12


def test_llama_cpp_names_on_the_command_line(smollm_path):
    """`-ctk/-ctv/-fa/-b/-ub/--no-mmap/-ngl auto`, as llama.cpp spells them, load and answer;
    the V cache that needs flash attention says why it is on."""
    proc = gguf_tui(
        "run", smollm_path, "Say hello", "-c", "1024", "-ctk", "q8_0", "-ctv", "q8_0", "-fa", "off",
        "-b", "256", "-ub", "128", "--no-mmap", "-ngl", "auto",
        "--max-tokens", "8", "--temperature", "0", "--seed", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert "needs flash attention, so it is on" in proc.stderr


def test_wrong_values_on_the_command_line_name_the_choices(smollm_path):
    proc = gguf_tui("run", smollm_path, "hi", "--cache-type-k", "q3")
    assert proc.returncode == 2
    assert "invalid choice: 'q3'" in proc.stderr and "q8_0" in proc.stderr
    proc = gguf_tui("run", smollm_path, "hi", "--n-gpu-layers", "lots")
    assert proc.returncode == 2 and "not auto or a whole number" in proc.stderr
    proc = gguf_tui("run", smollm_path, "hi", "--batch-size", "0")
    assert proc.returncode == 2 and "--batch-size" in proc.stderr


def test_auto_gpu_layers_on_a_cpu_only_build_is_zero_and_silent(engine, smollm_path):
    info = engine.load(smollm_path, LoadOptions(n_ctx=N_CTX)).result(120)
    assert LoadOptions().n_gpu_layers == GPU_LAYERS_AUTO
    assert (info.gpu_layers, info.notes) == (0, ())


def test_an_out_of_memory_load_backs_off_and_retries(smollm_path, monkeypatch):
    """A GPU build (stood in for) whose first two tries run out of device memory: the
    third, with fewer layers, loads, and the note says how many went to the GPU."""
    from llama_cpp import llama_cpp as lib

    from gguf_tui.engine.local import llama_log, llama_model
    from gguf_tui.models.gpu_fit import DeviceMemory

    monkeypatch.setattr(lib, "llama_supports_gpu_offload", lambda: True)
    monkeypatch.setattr(
        llama_model, "auto_gpu_fit", _fit_all_of(DeviceMemory(8 << 30, 8 << 30), smollm_path)
    )
    tried: list[int] = []
    real = LlamaModel._llama

    def attempt(*args, **params):
        tried.append(params["n_gpu_layers"])
        if len(tried) < 3:
            monkeypatch.setattr(
                llama_log,
                "take_recent_errors",
                lambda: ["ggml_backend_cuda_buffer_type_alloc_buffer: cudaMalloc failed: "
                         "out of memory"],
            )  # fmt: skip
            raise ValueError("Failed to load model from file")
        monkeypatch.undo()  # the real llama.cpp (a CPU build) for the last try
        return real(*args, **params)

    monkeypatch.setattr(LlamaModel, "_llama", staticmethod(attempt))
    model = LlamaModel.load(smollm_path, LoadOptions(n_ctx=N_CTX))
    try:
        assert tried == [-1, 27, 24]
        assert model.gpu_fit.startswith("GPU 24/30 layers · ")
        assert any(n.startswith("GPU 24/30 layers") for n in model.info.notes)
    finally:
        model.close()


def _fit_all_of(device, path):
    from gguf_tui.models.gpu_fit import choose_layers, model_shape

    def fit(header, options, n_ctx, flash_attn):
        shape = model_shape([read_header(path)], 23040, n_ctx, 512, True)
        return choose_layers(device, shape), shape

    return fit
