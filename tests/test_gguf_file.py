import time

import pytest

from gguf_tui.models.gguf_checks import check_loadable
from gguf_tui.models.gguf_file import GGML_TYPE_SIZES, GGUFError, read_header, shard_info


def test_type_sizes_match_the_gguf_package():
    from gguf.constants import GGML_QUANT_SIZES

    for qtype, sizes in GGML_QUANT_SIZES.items():
        assert GGML_TYPE_SIZES.get(int(qtype)) == sizes, qtype.name


def test_header_of_smollm(smollm_path):
    h = read_header(smollm_path)
    assert h.get("general.architecture") == "llama"
    assert h.get("llama.context_length") == 8192
    assert "<|im_start|>" in h.get("tokenizer.chat_template")
    assert h.array_lengths["tokenizer.ggml.tokens"] == 49152
    assert "tokenizer.ggml.tokens" not in h.metadata  # the vocabulary body was skipped
    assert h.n_params == 134_515_008
    assert h.data_end == smollm_path.stat().st_size


def test_header_is_fast_on_a_262k_vocabulary(gemma_path):
    started = time.perf_counter()
    h = read_header(gemma_path)
    elapsed = time.perf_counter() - started
    assert h.array_lengths["tokenizer.ggml.tokens"] == 262144
    assert "tokenizer.chat_template" not in h.metadata
    assert elapsed < 1.0, f"reading the header took {elapsed:.2f}s"


def test_split_model_is_checked_whole(sharded_path):
    assert shard_info(sharded_path)[1:] == (1, 2)
    h = check_loadable(sharded_path)
    assert h.get("split.count") == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "is empty"),
        ("truncated", "is truncated"),
        ("wrong_magic", "is not a GGUF model (it starts with b'GGUX'"),
        ("text", "is not a GGUF model (a text file"),
    ],
)
def test_broken_files_have_plain_reasons(broken, name, message):
    with pytest.raises(GGUFError, match=message.replace("(", r"\(").replace("'", "'")):
        check_loadable(broken[name])


def test_missing_shard_is_named(sharded_path, tmp_path):
    lonely = tmp_path / sharded_path.name
    lonely.symlink_to(sharded_path)
    with pytest.raises(GGUFError, match=r"missing: .*00002-of-00002\.gguf"):
        check_loadable(lonely)


def test_missing_file(tmp_path):
    with pytest.raises(GGUFError, match="does not exist"):
        check_loadable(tmp_path / "nope.gguf")
