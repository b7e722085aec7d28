"""`gguf-tui bench` loads each model with llama.cpp's load options (-ctk/-ctv, -fa,
-b/-ub, --no-mmap, --mlock, -ngl), and its table and JSON say the KV-cache types and
flash attention each model loaded with. On the real SmolLM2, through the command."""

from __future__ import annotations

import json
from dataclasses import fields

from gguf_tui.engine.bench import BenchConfig, BenchResult
from gguf_tui.engine.options import LoadOptions
from tests.support.cli import gguf_tui

TINY = ["--prompt-tokens", "40", "--gen-tokens", "6", "--repeat", "1", "--no-warmup"]


def test_every_load_option_reaches_the_workers_load():
    config = BenchConfig(
        prompt_tokens=40,
        gen_tokens=6,
        n_gpu_layers=-1,
        n_threads=2,
        chat_format="chatml",
        cache_type_k="q8_0",
        cache_type_v="q4_0",
        flash_attn="on",
        n_batch=256,
        n_ubatch=128,
        use_mmap=False,
        use_mlock=True,
    )
    options = BenchConfig.from_dict(json.loads(json.dumps(config.to_dict()))).load_options()
    assert options == LoadOptions(
        n_ctx=256,
        n_gpu_layers=-1,
        n_threads=2,
        chat_format="chatml",
        n_batch=256,
        n_ubatch=128,
        flash_attn="on",
        cache_type_k="q8_0",
        cache_type_v="q4_0",
        use_mmap=False,
        use_mlock=True,
    )
    # Every field a load takes is given but profiles (the bench measures what it is told).
    unset = {f.name for f in fields(LoadOptions) if getattr(options, f.name) == f.default}
    assert unset == {"profiles"}
    assert config.load_flags == "-ctk q8_0 -ctv q4_0 -fa on -b 256 -ub 128 --no-mmap --mlock"


def test_the_kv_fa_cell():
    row = BenchResult("/m/x.gguf", cache_type_k="q8_0", cache_type_v="q8_0", flash_attn="on")
    assert row.kv_flash == "q8_0 on"
    row.cache_type_v = "q4_0"
    assert row.kv_flash == "q8_0/q4_0 on"
    assert BenchResult("/m/x.gguf").kv_flash == ""  # did not load


def test_bench_json_records_the_options_and_what_each_model_loaded_with(smollm_path):
    out = gguf_tui(
        "bench", smollm_path, *TINY, "-ctk", "q8_0", "-ctv", "q8_0", "-fa", "off",
        "-b", "256", "-ub", "128", "--no-mmap", "--mlock", "--n-gpu-layers", "0", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    config = data["config"]
    assert (config["cache_type_k"], config["cache_type_v"], config["flash_attn"]) == (
        "q8_0",
        "q8_0",
        "off",
    )
    assert (config["n_batch"], config["n_ubatch"]) == (256, 128)
    assert config["use_mmap"] is False and config["use_mlock"] is True
    assert config["n_gpu_layers"] == 0
    (row,) = data["results"]
    assert row["error"] is None and len(row["runs"]) == 1
    assert (row["cache_type_k"], row["cache_type_v"]) == ("q8_0", "q8_0")
    # A quantized V cache needs flash attention: on, and the load's note says so.
    assert row["flash_attn"] == "on"
    assert any("needs flash attention, so it is on" in n for n in row["notes"])


def test_bench_table_shows_the_kv_cache_and_flash_attention(smollm_path):
    out = gguf_tui("bench", smollm_path, *TINY, "-ctk", "q4_0", "-fa", "on")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("MODEL"))
    assert "KV FA" in lines[header]
    row = lines[header + 2]
    assert row.split()[0] == "Q4_1" and row.rstrip().endswith("q4_0/f16 on"), row
    legend = " ".join(lines[header + 3 :])
    assert "-ctk q4_0 -ctv f16 -fa on -b 512 -ub 512" in legend
    assert all(len(ln) <= 100 for ln in lines)


def test_config_toml_load_options_apply_and_a_wrong_type_is_refused(smollm_path, tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text('cache_type_k = "q8_0"\nflash_attn = "on"\n')
    out = gguf_tui(
        "bench", smollm_path, *TINY, "--json", env={"GGUF_TUI_CONFIG_DIR": str(config_dir)}
    )
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)["results"]
    assert (row["cache_type_k"], row["cache_type_v"], row["flash_attn"]) == ("q8_0", "f16", "on")
    bad = gguf_tui("bench", smollm_path, *TINY, "-ctk", "q9")
    assert bad.returncode == 2 and "invalid choice: 'q9'" in bad.stderr
