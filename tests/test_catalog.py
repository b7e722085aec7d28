"""The local catalog, scanned over the real test models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gguf_tui.models import scan_cache
from gguf_tui.models.catalog import (
    BESIDE,
    COMMAND_LINE,
    CONFIGURED,
    HF_CACHE,
    OWN_FOLDER,
    ScanStats,
    configured_places,
    default_dirs,
    group_siblings,
    scan,
    scan_configured,
    siblings_of,
    walk_ggufs,
)
from gguf_tui.models.memory import (
    SystemMemory,
    estimate_memory,
    kv_bytes_per_token,
    parse_nvidia_smi,
)
from gguf_tui.models.quant import model_base_name
from tests.support.models import LADDER, tiny_gguf

BY_BPW = ["Q3_K_S", "IQ4_NL", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]
GIB = 1 << 30


def link_all(paths, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths:
        (folder / p.name).symlink_to(p)
    return folder


@pytest.fixture
def ladder_dir(ladder, tmp_path):
    return link_all(ladder.values(), tmp_path / "ladder")


def test_the_ladder_is_read_with_measured_bits_per_weight(ladder, ladder_dir):
    models = scan([ladder_dir], hf_cache=None)
    assert sorted(m.quant for m in models) == sorted(LADDER)
    by_quant = {m.quant: m for m in models}
    # Q6_K of a 135M model measures ~8.1 bpw: rows that do not divide by 256 fall back.
    assert by_quant["Q6_K"].bits_per_weight == pytest.approx(8.12, abs=0.05)
    assert by_quant["Q8_0"].bits_per_weight == pytest.approx(8.51, abs=0.05)
    assert by_quant["Q3_K_S"].bits_per_weight == pytest.approx(5.14, abs=0.05)
    for quant, m in by_quant.items():
        assert m.file_size == ladder[quant].stat().st_size
        assert m.display_name == "SmolLM2-135M-Instruct"
        assert m.size_label == "135M"
        assert m.architecture == "llama"
        assert m.n_params == 134_515_008
        assert m.context_length == 8192
        assert m.has_chat_template
        assert m.n_shards == 1 and m.usable and m.repo_id is None


def test_the_ladder_is_one_family_sorted_by_bits_per_weight(ladder_dir):
    models = scan([ladder_dir], hf_cache=None)
    groups = group_siblings(models)
    assert len(groups) == 1
    (members,) = groups.values()
    assert [m.quant for m in members] == BY_BPW
    assert [m.quant for m in siblings_of(models[0], models)] == BY_BPW


def test_gemma_has_no_chat_template_and_a_long_context(gemma_path, tmp_path):
    (model,) = scan([link_all([gemma_path], tmp_path / "g")], hf_cache=None)
    assert (model.architecture, model.quant, model.context_length) == ("gemma3", "Q4_K_M", 32768)
    assert not model.has_chat_template
    assert model.size_label == "270M"


def test_a_split_model_is_listed_once_with_its_shards(sharded_path, tmp_path):
    shards = sorted(sharded_path.parent.glob("*.gguf"))
    (model,) = scan([link_all(shards, tmp_path / "split")], hf_cache=None)
    assert model.path.name == sharded_path.name
    assert model.n_shards == 2 and not model.incomplete and model.usable
    assert model.file_size == sum(p.stat().st_size for p in shards)
    assert model.n_params == 134_515_008  # summed over the shards
    assert model.quant == "Q4_1"
    assert model.bits_per_weight == pytest.approx(5.74, abs=0.05)


def test_a_missing_shard_marks_the_model_incomplete(sharded_path, tmp_path):
    (model,) = scan([link_all([sharded_path], tmp_path / "first")], hf_cache=None)
    assert model.incomplete and not model.usable
    assert model.missing_shards == [sharded_path.name.replace("00001-of", "00002-of")]
    assert group_siblings([model]) == {}  # never offered as a quantization to switch to


def test_a_lone_later_shard_never_appears_on_its_own(sharded_path, tmp_path):
    second = sharded_path.with_name(sharded_path.name.replace("00001-of", "00002-of"))
    (model,) = scan([link_all([second], tmp_path / "second")], hf_cache=None)
    assert model.path.name == sharded_path.name  # listed under the first shard's name
    assert model.incomplete and model.missing_shards == [sharded_path.name]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty", "is empty"),
        ("truncated", "is truncated"),
        ("wrong_magic", "is not a GGUF model (it starts with b'GGUX'"),
        ("text", "is not a GGUF model (a text file"),
    ],
)
def test_broken_files_are_listed_with_the_reason(broken, tmp_path, name, reason):
    (model,) = scan([link_all([broken[name]], tmp_path / name)], hf_cache=None)
    assert model.error is not None and reason in model.error
    assert not model.usable and model.bits_per_weight is None


def test_a_second_scan_reads_no_header(ladder_dir, tmp_path, monkeypatch):
    cache_file = tmp_path / "scan-cache.json"
    first = ScanStats()
    cold = scan([ladder_dir], hf_cache=None, cache_file=cache_file, stats=first)
    assert (first.files, first.headers_read, first.cache_hits) == (6, 6, 0)

    def no_reading(path):
        raise AssertionError(f"header of {path} read again")

    monkeypatch.setattr(scan_cache, "read_header", no_reading)
    second = ScanStats()
    warm = scan([ladder_dir], hf_cache=None, cache_file=cache_file, stats=second)
    assert (second.headers_read, second.cache_hits) == (0, 6)
    assert [m.to_dict() for m in warm] == [m.to_dict() for m in cold]


def test_a_changed_file_is_read_again(ladder_dir, tmp_path):
    cache_file = tmp_path / "scan-cache.json"
    tiny = tiny_gguf(ladder_dir / "tiny-F32.gguf", **{"general.name": "tiny"})
    scan([ladder_dir], hf_cache=None, cache_file=cache_file)
    tiny_gguf(tiny, **{"general.name": "tiny, rewritten with a longer name"})
    stats = ScanStats()
    models = scan([ladder_dir], hf_cache=None, cache_file=cache_file, stats=stats)
    assert (stats.headers_read, stats.cache_hits) == (1, 6)
    assert "tiny, rewritten with a longer name" in {m.model_name for m in models}


def test_a_corrupt_cache_file_is_ignored_and_rebuilt(ladder_dir, tmp_path):
    cache_file = tmp_path / "scan-cache.json"
    cache_file.write_text('{"version": 1, "files": {"/x": {"size": "garbage"')
    stats = ScanStats()
    models = scan([ladder_dir], hf_cache=None, cache_file=cache_file, stats=stats)
    assert len(models) == 6 and stats.headers_read == 6
    assert len(json.loads(cache_file.read_text())["files"]) == 6


def make_hf_cache(cache: Path, repo_id: str, files: dict[str, Path], commit="a" * 40) -> Path:
    """Lay files out as huggingface_hub does: blobs, snapshot links, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    for rel, source in files.items():
        blob = repo / "blobs" / f"{abs(hash(rel)):x}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.symlink_to(source)
        link = repo / "snapshots" / commit / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return repo / "snapshots" / commit


def test_the_hf_cache_is_found_from_the_environment(ladder, sharded_path, tmp_path, monkeypatch):
    home = tmp_path / "hf-home"
    repo_id = "bartowski/SmolLM2-135M-Instruct-GGUF"
    make_hf_cache(home / "hub", repo_id, {p.name: p for p in ladder.values()})
    shards = sorted(sharded_path.parent.glob("*.gguf"))
    make_hf_cache(home / "hub", "test/split-GGUF", {f"Q4_1/{p.name}": p for p in shards})
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(home))  # read at call time: HF_HOME/hub
    models = scan([], cache_file=None)
    assert len(models) == 7
    ladder_models = [m for m in models if m.repo_id == repo_id]
    assert sorted(m.quant for m in ladder_models) == sorted(LADDER)
    (split,) = [m for m in models if m.repo_id == "test/split-GGUF"]
    assert split.n_shards == 2 and split.usable and split.path.parent.name == "Q4_1"
    groups = group_siblings(models)
    assert [m.quant for m in groups[f"hf:{repo_id}::smollm2-135m-instruct"]] == BY_BPW

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # wins over HF_HOME
    assert scan([]) == []


def test_a_file_in_both_a_folder_and_the_hf_cache_is_listed_once(ladder, tmp_path):
    snapshot = make_hf_cache(tmp_path / "hub", "o/r", {"m-Q8_0.gguf": ladder["Q8_0"]})
    folder = link_all([snapshot / "m-Q8_0.gguf"], tmp_path / "models")
    (model,) = scan([folder], hf_cache=tmp_path / "hub")
    assert model.repo_id == "o/r"


def test_the_file_name_gives_a_more_specific_quant(ladder, tmp_path):
    folder = tmp_path / "named"
    folder.mkdir()
    (folder / "SmolLM2-135M-Instruct-Q4_K_L.gguf").symlink_to(ladder["Q4_K_M"])
    (model,) = scan([folder], hf_cache=None)
    assert model.quant == "Q4_K_L"  # stored as Q4_K_M; the name says the embeddings are Q8


def test_the_walk_skips_hidden_folders_and_survives_symlink_loops(ladder, tmp_path):
    root = tmp_path / "root"
    link_all([ladder["Q8_0"]], root / "a" / "b")
    link_all([ladder["Q6_K"]], root / ".hidden")
    (root / "a" / "b" / "loop").symlink_to(root / "a")
    found = list(walk_ggufs(root))
    assert [p.name for p in found] == [ladder["Q8_0"].name]


def test_default_folders_in_order_without_duplicates(tmp_path):
    mine = tmp_path / "data" / "models"
    dirs = default_dirs(mine, ["~/llms", str(mine)], [str(tmp_path / "extra")])
    assert dirs == [mine, Path("~/llms").expanduser(), tmp_path / "extra"]


def test_the_configured_places_each_once_with_why(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    mine = tmp_path / "data" / "models"
    extra = tmp_path / "extra"
    places = configured_places(
        mine, ["~/llms", str(mine)], [str(extra), "~/llms"], beside=[extra, tmp_path / "dl"]
    )
    assert [(p.path, p.why) for p in places] == [
        (mine, OWN_FOLDER),
        (Path("~/llms").expanduser(), CONFIGURED),
        (extra, COMMAND_LINE),
        (tmp_path / "hf", HF_CACHE),
        (tmp_path / "dl", BESIDE),  # the extra folder is searched already, with subfolders
    ]
    assert [p.why for p in configured_places(mine, hf_cache=None)] == [OWN_FOLDER]


def test_one_scan_of_the_configured_places(ladder, tmp_path):
    """What the picker, f3 and `gguf-tui list` list: the model folders with their
    subfolders, the cache, and only the files beside a model opened by path."""
    own = link_all([ladder["Q8_0"]], tmp_path / "data" / "models" / "deep")
    configured = link_all([ladder["Q6_K"]], tmp_path / "llms")
    downloads = link_all([ladder["Q4_K_M"]], tmp_path / "Downloads")
    link_all([ladder["Q3_K_S"]], downloads / "below")  # beside: not searched
    found = scan_configured(
        own.parent, [str(configured)], beside=[downloads], hf_cache=tmp_path / "no-cache"
    )
    assert sorted(m.quant for m in found.models) == ["Q4_K_M", "Q6_K", "Q8_0"]
    assert [p.why for p in found.places] == [OWN_FOLDER, CONFIGURED, HF_CACHE, BESIDE]
    bare = scan_configured(own.parent, hf_cache=None)
    assert [m.quant for m in bare.models] == ["Q8_0"]
    assert [p.why for p in bare.places] == [OWN_FOLDER]


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("SmolLM2-135M-Instruct-Q4_K_M.gguf", "SmolLM2-135M-Instruct"),
        ("Q8_0/SmolLM2-135M-Instruct-Q8_0-00001-of-00002.gguf", "SmolLM2-135M-Instruct"),
        ("gemma-3-270m-q4_k_m.gguf", "gemma-3-270m"),
        ("mistral-7b-instruct-v0.2.Q5_K_M.gguf", "mistral-7b-instruct-v0.2"),
    ],
)
def test_base_names_drop_the_quantization(name, base):
    assert model_base_name(name) == base


def test_kv_cache_size_from_real_headers(smollm_path, gemma_path):
    from gguf_tui.models.gguf_file import read_header

    # SmolLM2: 30 layers × 3 KV heads × (64 + 64) × 2 bytes; Gemma 3: 18 × 1 × (256 + 256) × 2.
    assert kv_bytes_per_token(read_header(smollm_path, tensors=False).metadata) == 23040
    assert kv_bytes_per_token(read_header(gemma_path, tensors=False).metadata) == 18432


def test_memory_fit_classes():
    mem = SystemMemory(ram_total=16 * GIB, ram_available=8 * GIB, vram_total=None)
    small = estimate_memory(1 * GIB, 4096, kv_per_token=128 * 1024, memory=mem)
    assert small.kv_cache == 512 * 1024 * 1024 and small.kv_exact
    assert small.fit == "ram" and small.label == "fits in memory"
    assert estimate_memory(10 * GIB, 4096, memory=mem).fit == "tight"
    assert estimate_memory(20 * GIB, 4096, memory=mem).fit == "too big"
    gpu = SystemMemory(16 * GIB, 8 * GIB, vram_total=24 * GIB, gpu_name="RTX")
    assert estimate_memory(10 * GIB, 4096, memory=gpu).fit == "gpu"
    guess = estimate_memory(4 * GIB, 8192, memory=mem)
    assert not guess.kv_exact and guess.kv_cache == pytest.approx(0.8 * GIB, rel=0.01)


def test_nvidia_smi_output_is_parsed():
    out = "81559, NVIDIA H100 80GB HBM3\n24576, NVIDIA GeForce RTX 4090\n"
    assert parse_nvidia_smi(out) == (81559 << 20, "NVIDIA H100 80GB HBM3")
    assert parse_nvidia_smi("") == (None, None)
