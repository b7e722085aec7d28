"""The hostile variants of the tiny model (tests/support/hostile_gguf.py), one field each.

Each `Variant` either corrupts the tiny model's bytes at a field `Layout` found, or
rebuilds the model with odd metadata (`build`). `caught` says who must refuse it: our
header reader and pre-flight checks, llama.cpp, or nobody (it is odd but harmless).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.hostile_gguf import _ARRAY, _STRING, N_VOCAB, KeyValue, Layout, TensorField

Corrupt = Callable[[bytearray, Layout], bytes]


@dataclass(frozen=True)
class Variant:
    """One hostile file: the tiny model's bytes corrupted, or the model rebuilt with `build`."""

    name: str
    corrupt: Corrupt | None = None
    caught: str = "reader"  # who refuses it: READER, LLAMA, or nobody (LOADS: it is harmless)
    build: dict | None = None  # write_tiny() keyword arguments


READER = "reader"  # our header reader and pre-flight checks: listed as broken, never loaded
LLAMA = "llama.cpp"  # only llama.cpp can tell (an architecture it lacks, a missing tensor …)
LOADS = "loads"  # odd but harmless: llama.cpp loads it and answers


def _built(caught: str = READER, **build: object) -> dict:
    return {"build": build, "caught": caught}


def _put(fmt: str, where: Callable[[Layout], int], value: int | float) -> Corrupt:
    def corrupt(data: bytearray, lay: Layout) -> bytes:
        struct.pack_into("<" + fmt, data, where(lay), value)
        return bytes(data)

    return corrupt


def _put_rel(fmt: str, where: Callable[[Layout], int], change: Callable[[int], int]) -> Corrupt:
    def corrupt(data: bytearray, lay: Layout) -> bytes:
        pos = where(lay)
        (old,) = struct.unpack_from("<" + fmt, data, pos)
        struct.pack_into("<" + fmt, data, pos, change(old))
        return bytes(data)

    return corrupt


def _replace(where: Callable[[Layout], int], old: bytes, new: bytes) -> Corrupt:
    """Overwrite bytes in place (same length), checking what was there."""

    def corrupt(data: bytearray, lay: Layout) -> bytes:
        pos = where(lay)
        assert data[pos : pos + len(old)] == old, (data[pos : pos + len(old)], old)
        data[pos : pos + len(new)] = new
        return bytes(data)

    return corrupt


def _cut(where: Callable[[Layout], int]) -> Corrupt:
    return lambda data, lay: bytes(data[: where(lay)])


def _kv(key: str) -> Callable[[Layout], KeyValue]:
    return lambda lay: lay.kvs[key]


def _key_text(key: str) -> Callable[[Layout], int]:
    return lambda lay: lay.kvs[key].start + 8


def _token_pos(lay: Layout, index: int) -> int:
    """Byte offset of token `index`'s text within the token array body (after its length)."""
    data = lay.data
    pos = lay.kvs[TOKENS].value_pos + 12
    for _ in range(index):
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + n
    return pos + 8 - (lay.kvs[TOKENS].value_pos + 12)


def _t(name: str) -> Callable[[Layout], TensorField]:
    return lambda lay: lay.tensors[name]


ARCH, NAME, TOKENS = "general.architecture", "general.name", "tokenizer.ggml.tokens"
EMBD = "token_embd.weight"
HEADS = "llama.attention.head_count"
U64_MAX = (1 << 64) - 1

VARIANTS: tuple[Variant, ...] = (
    # the fixed header
    Variant("version-0", _put("I", lambda _: 4, 0)),
    Variant("version-1", _put("I", lambda _: 4, 1)),
    Variant("version-huge", _put("I", lambda _: 4, 0xFFFFFFFF)),
    Variant("tensor-count-huge", _put("Q", lambda _: 8, U64_MAX)),
    Variant("tensor-count-plus-one", _put_rel("Q", lambda _: 8, lambda n: n + 1)),
    Variant("tensor-count-zero", _put("Q", lambda _: 8, 0), caught=LLAMA),
    Variant("kv-count-huge", _put("Q", lambda _: 16, 1 << 62)),
    Variant("kv-count-plus-one", _put_rel("Q", lambda _: 16, lambda n: n + 1)),
    Variant("kv-count-minus-one", _put_rel("Q", lambda _: 16, lambda n: n - 1)),
    # keys
    Variant("key-length-huge", _put("Q", lambda lay: lay.kvs[ARCH].start, 1 << 60)),
    Variant(
        "key-length-past-end", _put_rel("Q", lambda lay: lay.kvs[NAME].start, lambda _: 1 << 20)
    ),
    Variant("key-length-zero", _put("Q", lambda lay: lay.kvs[NAME].start, 0)),
    Variant("key-not-utf8", _replace(_key_text(NAME), b"general", b"\xffeneral"), caught=LOADS),
    Variant(
        "duplicate-key",
        _replace(
            _key_text("tokenizer.ggml.eos_token_id"), b"tokenizer.ggml.eos", b"tokenizer.ggml.bos"
        ),
    ),
    # value types
    Variant("value-type-unknown", _put("I", lambda lay: lay.kvs[NAME].type_pos, 99)),
    Variant("value-type-mismatch", _put("I", lambda lay: lay.kvs[ARCH].type_pos, 4)),
    Variant("array-read-as-string", _put("I", lambda lay: lay.kvs[TOKENS].type_pos, _STRING)),
    # strings
    Variant("string-length-huge", _put("Q", lambda lay: lay.kvs[NAME].value_pos, 1 << 62)),
    Variant(
        "string-length-past-end",
        _put("Q", lambda lay: lay.kvs["tokenizer.chat_template"].value_pos, 1 << 24),
    ),
    Variant(
        "string-length-short", _put_rel("Q", lambda lay: lay.kvs[NAME].value_pos, lambda n: n - 3)
    ),
    Variant(
        "architecture-not-utf8",
        _replace(lambda lay: lay.kvs[ARCH].value_pos + 8, b"ll", b"\xff\xfe"),
        caught=LLAMA,
    ),
    # arrays
    Variant("array-item-type-unknown", _put("I", lambda lay: lay.kvs[TOKENS].value_pos, 99)),
    Variant("array-item-type-nested", _put("I", lambda lay: lay.kvs[TOKENS].value_pos, _ARRAY)),
    Variant("array-item-type-mismatch", _put("I", lambda lay: lay.kvs[TOKENS].value_pos, 4)),
    Variant("array-count-huge", _put("Q", lambda lay: lay.kvs[TOKENS].value_pos + 4, 1 << 40)),
    Variant("array-count-max", _put("Q", lambda lay: lay.kvs[TOKENS].value_pos + 4, U64_MAX)),
    Variant(
        "array-count-short",
        _put_rel("Q", lambda lay: lay.kvs[TOKENS].value_pos + 4, lambda n: n - 100),
    ),
    Variant(
        "vocab-claim-huge",
        _put("Q", lambda lay: lay.kvs["tokenizer.ggml.token_type"].value_pos + 4, 1 << 33),
    ),
    # tensor infos
    Variant("tensor-name-length-huge", _put("Q", lambda lay: lay.tensors[EMBD].start, 1 << 61)),
    Variant("n-dims-huge", _put("I", lambda lay: lay.tensors[EMBD].ndims_pos, 1000)),
    Variant("n-dims-five", _put("I", lambda lay: lay.tensors["output_norm.weight"].ndims_pos, 5)),
    Variant("n-dims-zero", _put("I", lambda lay: lay.tensors["output_norm.weight"].ndims_pos, 0)),
    Variant("dim-zero", _put("Q", lambda lay: lay.tensors[EMBD].dims_pos, 0)),
    Variant("dim-huge", _put("Q", lambda lay: lay.tensors[EMBD].dims_pos + 8, 1 << 62)),
    Variant("dim-negative", _put("Q", lambda lay: lay.tensors[EMBD].dims_pos, U64_MAX)),
    Variant(
        "dims-overflow",
        lambda d, lay: _put("Q", lambda lay: lay.tensors[EMBD].dims_pos + 8, 1 << 40)(
            bytearray(_put("Q", lambda lay: lay.tensors[EMBD].dims_pos, 1 << 40)(d, lay)), lay
        ),
    ),
    Variant(
        "wrong-vocab-shape",
        _put("Q", lambda lay: lay.tensors[EMBD].dims_pos + 8, 500),
    ),
    Variant("ggml-type-unknown", _put("I", lambda lay: lay.tensors[EMBD].type_pos, 99)),
    Variant("ggml-type-removed", _put("I", lambda lay: lay.tensors[EMBD].type_pos, 4)),
    Variant(
        "ggml-type-changed", _put("I", lambda lay: lay.tensors["output_norm.weight"].type_pos, 8)
    ),
    Variant(
        "tensor-offset-beyond-file",
        _put("Q", lambda lay: lay.tensors["blk.0.ffn_down.weight"].offset_pos, 1 << 30),
    ),
    Variant("tensor-offset-huge", _put("Q", lambda lay: lay.tensors[EMBD].offset_pos, U64_MAX - 7)),
    Variant(
        "tensor-offset-misaligned",
        _put_rel("Q", lambda lay: lay.tensors["blk.0.attn_q.weight"].offset_pos, lambda n: n + 1),
    ),
    Variant(
        "tensor-offsets-overlap",
        _put("Q", lambda lay: lay.tensors["blk.0.attn_q.weight"].offset_pos, 0),
    ),
    Variant(
        "duplicate-tensor-name",
        _replace(
            lambda lay: lay.tensors["blk.0.attn_v.weight"].start + 8,
            b"blk.0.attn_v",
            b"blk.0.attn_k",
        ),
    ),
    Variant(
        "missing-tensor",
        _replace(
            lambda lay: lay.tensors["blk.0.attn_v.weight"].start + 8,
            b"blk.0.attn_v",
            b"blk.0.attn_x",
        ),
        caught=LLAMA,
    ),
    # metadata a model needs
    Variant(
        "missing-architecture",
        _replace(_key_text(ARCH), b"general.architecture", b"general.architecturX"),
    ),
    Variant(
        "unknown-architecture",
        _replace(lambda lay: lay.kvs[ARCH].value_pos + 8, b"llama", b"llamX"),
        caught=LLAMA,
    ),
    Variant(
        "missing-block-count",
        _replace(_key_text("llama.block_count"), b"llama.block_count", b"llama.block_counX"),
        caught=LLAMA,
    ),
    Variant("zero-heads", _put("I", lambda lay: lay.kvs[HEADS].value_pos, 0), caught=LLAMA),
    Variant(
        "zero-kv-heads", _put("I", lambda lay: lay.kvs[HEADS + "_kv"].value_pos, 0), caught=LLAMA
    ),
    Variant(
        "zero-embedding",
        _put("I", lambda lay: lay.kvs["llama.embedding_length"].value_pos, 0),
        caught=LLAMA,
    ),
    Variant("zero-blocks", _put("I", lambda lay: lay.kvs["llama.block_count"].value_pos, 0)),
    Variant("huge-blocks", _put("I", lambda lay: lay.kvs["llama.block_count"].value_pos, 1 << 31)),
    Variant("heads-not-dividing", _put("I", lambda lay: lay.kvs[HEADS].value_pos, 3), caught=LLAMA),
    Variant(
        "nan-float", _put("f", lambda lay: lay.kvs["llama.rope.freq_base"].value_pos, float("nan"))
    ),
    Variant(
        "inf-float",
        _put(
            "f",
            lambda lay: lay.kvs["llama.attention.layer_norm_rms_epsilon"].value_pos,
            float("inf"),
        ),
    ),
    Variant("alignment-zero", _put("I", lambda lay: lay.kvs["general.alignment"].value_pos, 0)),
    Variant(
        "alignment-not-power-of-two",
        _put("I", lambda lay: lay.kvs["general.alignment"].value_pos, 24),
    ),
    Variant(
        "bos-token-out-of-range",
        _put("I", lambda lay: lay.kvs["tokenizer.ggml.bos_token_id"].value_pos, 1_000_000),
        caught=LOADS,
    ),
    Variant(
        "alignment-wrong-type", _put("I", lambda lay: lay.kvs["general.alignment"].type_pos, 5)
    ),
    Variant(
        "bos-token-wrong-type",
        _put("I", lambda lay: lay.kvs["tokenizer.ggml.bos_token_id"].type_pos, 5),
        caught=LLAMA,
    ),
    Variant(
        "block-count-float",
        _put("I", lambda lay: lay.kvs["llama.block_count"].type_pos, 6),
        caught=LLAMA,
    ),
    Variant(
        "duplicate-token",
        _replace(
            lambda lay: lay.kvs[TOKENS].value_pos + 12 + _token_pos(lay, 253),
            b"\xc4\xa0a",
            b"\xc4\xa0t",
        ),
    ),
    Variant(
        "missing-byte-token",
        _replace(lambda lay: lay.kvs[TOKENS].value_pos + 12 + _token_pos(lay, 17), b"!", b"\x01"),
        caught=LOADS,
    ),
    # rebuilt with odd metadata
    Variant("tokens-not-strings", **_built(LLAMA, arrays={TOKENS: (list(range(N_VOCAB)), 5)})),
    Variant(
        "merges-not-strings", **_built(LLAMA, arrays={"tokenizer.ggml.merges": ([1, 2, 3], 5)})
    ),
    Variant(
        "token-types-short", **_built(LLAMA, arrays={"tokenizer.ggml.token_type": ([1] * 10, 5)})
    ),
    Variant(
        "token-types-floats",
        **_built(LLAMA, arrays={"tokenizer.ggml.token_type": ([1.0] * N_VOCAB, 6)}),
    ),
    Variant("scores-short", **_built(LLAMA, arrays={"tokenizer.ggml.scores": ([0.5] * 10, 6)})),
    Variant("scores-bytes", **_built(LLAMA, arrays={"tokenizer.ggml.scores": ([1] * N_VOCAB, 0)})),
    Variant("no-tokens", **_built(LLAMA, arrays={TOKENS: None})),
    Variant(
        "expert-count-huge",
        **_built(**{"llama.expert_count": 100_000, "llama.expert_used_count": 2}),
    ),
    Variant(
        "experts-used-exceed", **_built(**{"llama.expert_count": 4, "llama.expert_used_count": 8})
    ),
    Variant(
        "experts-none-used", **_built(**{"llama.expert_count": 4, "llama.expert_used_count": 0})
    ),
    Variant("vocab-size-huge", **_built(LOADS, **{"llama.vocab_size": 1 << 31})),
    Variant("context-length-zero", **_built(LOADS, **{"llama.context_length": 0})),
    Variant("context-length-text", **_built(LLAMA, **{"llama.context_length": "8k"})),
    Variant("heads-text", **_built(LLAMA, **{"llama.attention.head_count": "four"})),
    Variant("block-count-text", **_built(LLAMA, **{"llama.block_count": "one"})),
    Variant(
        "heads-array-of-text",
        **_built(
            LLAMA,
            arrays={HEADS: (["four"], _STRING)},
            **{HEADS: None},  # the scalar left out: the array takes its place
        ),
    ),
    Variant("file-type-text", **_built(LLAMA, **{"general.file_type": "Q4"})),
    Variant("enormous-string", **_built(LOADS, **{"general.description": "x" * 8_000_000})),
    Variant("enormous-key", **_built(LOADS, **{"general." + "k" * 100_000: 1})),
    Variant("chat-template-not-text", **_built(LOADS, **{"tokenizer.chat_template": (12345, 4)})),
    Variant("architecture-not-text", **_built(**{"general.architecture": (7, 4)})),
    Variant("tensor-name-too-long", **_built(extra_tensor="blk.0." + "x" * 70 + ".weight")),
    # truncated at every section boundary
    Variant("cut-inside-magic", _cut(lambda _: 2)),
    Variant("cut-after-magic", _cut(lambda _: 4)),
    Variant("cut-after-version", _cut(lambda _: 8)),
    Variant("cut-after-tensor-count", _cut(lambda _: 16)),
    Variant("cut-after-kv-count", _cut(lambda _: 24)),
    Variant("cut-inside-a-key", _cut(lambda lay: lay.kvs[NAME].start + 12)),
    Variant("cut-inside-the-vocabulary", _cut(lambda lay: lay.kvs[TOKENS].end - 100)),
    Variant("cut-after-metadata", _cut(lambda lay: lay.infos_start)),
    Variant(
        "cut-inside-tensor-infos", _cut(lambda lay: lay.tensors["blk.0.attn_q.weight"].dims_pos + 4)
    ),
    Variant("cut-after-tensor-infos", _cut(lambda lay: lay.infos_end)),
    Variant("cut-at-data-start", _cut(lambda lay: lay.data_start)),
    Variant("cut-inside-data", _cut(lambda lay: (lay.data_start + lay.size) // 2)),
    Variant("cut-one-byte-short", _cut(lambda lay: lay.size - 1)),
)
