"""`--n-gpu-layers auto` against recorded device figures (no GPU needed).

The devices are nvidia-smi's own lines (`memory.free,memory.total,name`, MiB) as
recorded on real cards; the models' shapes are real GGUF headers (SmolLM2 from the test
cache) or the published sizes of Llama-3.1-8B-Instruct Q4_K_M (32 layers of ~131 MB,
a 431 MB Q6_K output head, a 4 GiB f16 KV cache at 32,768 tokens)."""

from __future__ import annotations

import pytest

from gguf_tui.models.gguf_file import read_header
from gguf_tui.models.gpu_fit import (
    ALL_LAYERS,
    DeviceMemory,
    ModelShape,
    back_off,
    choose_layers,
    compute_buffer_bytes,
    expected_fit,
    is_out_of_memory,
    model_shape,
    parse_nvidia_smi_free,
)
from gguf_tui.models.memory import kv_bytes_per_token

MIB = 1 << 20
GB = 1_000_000_000

# Recorded: `nvidia-smi --query-gpu=memory.free,memory.total,name --format=csv,noheader,nounits`
RTX_3070_DESKTOP = "7642, 8192, NVIDIA GeForce RTX 3070\n"  # a desktop on it: 550 MiB taken
RTX_4090_IDLE = "24080, 24564, NVIDIA GeForce RTX 4090\n"
TWO_T4 = "14930, 15360, Tesla T4\n14930, 15360, Tesla T4\n"
GTX_1650 = "3811, 4096, NVIDIA GeForce GTX 1650\n"


def llama_8b_q4_k_m(n_ctx: int = 32768, kv_scale: float = 1.0, flash_attn: bool = True):
    kv_per_token = int(32 * 8 * 128 * 2 * 2 * kv_scale)  # layers x kv heads x head dim x K,V
    compute = compute_buffer_bytes(512, n_ctx, 128_256, 4096, 32, flash_attn)
    return ModelShape((131_000_000,) * 32, 431_000_000, kv_per_token * n_ctx // 32, compute)


def test_nvidia_smi_lines_are_read_and_several_gpus_added_up():
    card = parse_nvidia_smi_free(RTX_3070_DESKTOP)
    assert card == DeviceMemory(7642 * MIB, 8192 * MIB, "NVIDIA GeForce RTX 3070")
    both = parse_nvidia_smi_free(TWO_T4)
    assert both is not None and both.total == 2 * 15360 * MIB and both.free == 2 * 14930 * MIB
    assert parse_nvidia_smi_free("") is None
    assert parse_nvidia_smi_free("[N/A], [N/A], GPU\n") is None


def test_an_8b_model_at_32k_that_does_not_fit_8_gb_gets_the_layers_that_do():
    device = parse_nvidia_smi_free(RTX_3070_DESKTOP)
    assert device is not None
    fit = choose_layers(device, llama_8b_q4_k_m())
    assert 0 < fit.layers < 32  # 4.2 GB of layers + 4 GiB of cache + margin
    assert fit.n_gpu_layers == fit.layers
    # What it takes stays inside the free memory less the margin.
    assert fit.used <= device.free - (512 * MIB + device.total * 0.05)
    # One more layer would not have.
    more = expected_fit(device, llama_8b_q4_k_m(), fit.layers + 1)
    assert more.used > device.free - (512 * MIB + device.total * 0.05)
    assert fit.text == f"GPU {fit.layers}/32 layers · {fit.used / GB:.1f} of 8.6 GB"


def test_a_q8_0_cache_or_a_shorter_context_lets_more_layers_on():
    device = parse_nvidia_smi_free(RTX_3070_DESKTOP)
    assert device is not None
    f16 = choose_layers(device, llama_8b_q4_k_m())
    q8 = choose_layers(device, llama_8b_q4_k_m(kv_scale=34 / 64))
    short = choose_layers(device, llama_8b_q4_k_m(n_ctx=16384))
    assert q8.layers > f16.layers
    assert short.layers > f16.layers


def test_everything_goes_when_it_fits_with_the_output_head():
    device = parse_nvidia_smi_free(RTX_4090_IDLE)
    assert device is not None
    fit = choose_layers(device, llama_8b_q4_k_m(n_ctx=8192))
    assert fit.n_gpu_layers == ALL_LAYERS
    assert fit.text.startswith("GPU 32/32 layers · ")
    assert fit.text.endswith(" of 26 GB")


def test_without_flash_attention_the_attention_scores_take_room():
    device = parse_nvidia_smi_free(RTX_3070_DESKTOP)
    assert device is not None
    with_fa = choose_layers(device, llama_8b_q4_k_m(flash_attn=True))
    without = choose_layers(device, llama_8b_q4_k_m(flash_attn=False))
    assert without.layers < with_fa.layers


def test_a_card_too_small_for_one_layer_means_the_cpu():
    device = parse_nvidia_smi_free(GTX_1650)
    assert device is not None
    shape = ModelShape((1_900_000_000,) * 126, 2_000_000_000, 300 * MIB, 1_500_000_000)  # 405B
    fit = choose_layers(device, shape)
    assert (fit.n_gpu_layers, fit.layers, fit.used) == (0, 0, 0)


def test_back_off_reaches_zero_in_a_few_tries():
    tries, layers = [], ALL_LAYERS
    while layers:
        layers = back_off(layers, 32)
        tries.append(layers)
    assert tries == [28, 24, 20, 16, 12, 8, 4, 0]
    assert back_off(3, 5) == 2  # at least one layer fewer


@pytest.mark.parametrize(
    "line",
    [
        "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 4403.49 MiB on device 0: "
        "cudaMalloc failed: out of memory",
        "alloc_tensor_range: failed to allocate CUDA0 buffer of size 4617382400",
        "llama_init_from_model: failed to initialize the context: unable to allocate CUDA0 buffer",
        "ggml_vulkan: Device memory allocation of size 4617382400 failed. "
        "vk::Device::allocateMemory: ErrorOutOfDeviceMemory",
    ],
)
def test_llama_cpp_out_of_memory_lines_are_recognised(line):
    assert is_out_of_memory([line])


def test_other_load_failures_are_not_taken_for_memory():
    assert not is_out_of_memory(
        ["llama_model_load: error loading model: tensor 'blk.0.attn_q.weight' data is not "
         "within the file bounds, model is corrupted or incomplete"]
    )  # fmt: skip


def test_the_shape_comes_from_the_gguf_header(smollm_path):
    """SmolLM2: 30 layers, tied embeddings (llama.cpp copies them as the output head)."""
    header = read_header(smollm_path)
    per_token = kv_bytes_per_token(header.metadata) or 0
    shape = model_shape([header], per_token, 8192, 512, flash_attn=True)
    assert shape is not None
    assert shape.n_layers == 30
    assert len(set(shape.layer_bytes)) == 1  # every layer the same size
    embd = next(t.n_bytes for t in header.tensors if t.name == "token_embd.weight")
    assert shape.output_bytes >= embd
    assert shape.kv_bytes_per_layer * 30 == per_token * 8192
    weights = sum(shape.layer_bytes) + embd
    assert weights <= header.file_size <= weights * 1.05


def test_the_status_line_says_the_decision_and_never_33_of_32():
    from types import SimpleNamespace

    from gguf_tui.tui.widgets.status import device_forms

    whole = SimpleNamespace(n_layers=32, gpu_layers=33, gpu_fit="")  # the head counts as one
    assert device_forms(whole)[0] == "GPU 32/32 layers"
    fitted = SimpleNamespace(n_layers=32, gpu_layers=28, gpu_fit="GPU 28/32 layers · 5.1 of 8 GB")
    assert device_forms(fitted) == [
        "GPU 28/32 layers · 5.1 of 8 GB",
        "GPU 28/32 layers",
        "GPU 28/32",
        "",
    ]
