"""Hostile GGUF files: a tiny loadable model, then byte-level corruptions of it.

`tiny_model()` writes a real llama model small enough to copy dozens of times
(one layer, 64 dimensions, the first 512 tokens of SmolLM2's tokenizer and its
ChatML template): llama.cpp loads it and generates (nonsense) with it, so every
corruption below reaches the code that would read a real model. `Layout` finds
where each field of the header sits, and each `Variant` breaks one of them.
`template_model()` is the same model with another chat template (sandbox escapes).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import models

N_VOCAB = 512
N_EMBD = 64
N_FF = 128
ALIGN = 32
_STRING, _ARRAY = 8, 9
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


@functools.cache
def _tokenizer() -> tuple[list[str], list[int], list[str], str]:
    """The first N_VOCAB tokens of SmolLM2 (specials, the 256 bytes, early merges)."""
    import gguf

    reader = gguf.GGUFReader(models.smollm())
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()[:N_VOCAB]
    types = reader.fields["tokenizer.ggml.token_type"].contents()[:N_VOCAB]
    known = set(tokens)
    merges = [
        m
        for m in reader.fields["tokenizer.ggml.merges"].contents()[: N_VOCAB * 2]
        if all(part in known for part in m.split(" ")) and m.replace(" ", "") in known
    ]
    template = reader.fields["tokenizer.chat_template"].contents()
    return tokens, types, merges, template


def write_tiny(
    path: Path,
    template: str | None = None,
    arrays: dict[str, tuple[list, int] | None] | None = None,
    extra_tensor: str | None = None,
    **overrides: object,
) -> Path:
    """A small llama model llama.cpp really loads.

    `overrides` replace or add scalar metadata (None leaves a key out); `arrays`
    replaces tokenizer arrays with (items, GGUF item type), or leaves them out.
    """
    import gguf
    import numpy as np

    tokens, types, merges, default_template = _tokenizer()
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(path, "llama")
    meta: dict[str, object] = {
        "general.name": "Hostile Tiny",
        "general.alignment": ALIGN,
        "general.size_label": "0.1M",
        "llama.block_count": 1,
        "llama.context_length": 512,
        "llama.embedding_length": N_EMBD,
        "llama.feed_forward_length": N_FF,
        "llama.attention.head_count": 4,
        "llama.attention.head_count_kv": 2,
        "llama.rope.freq_base": 10000.0,
        "llama.attention.layer_norm_rms_epsilon": 1e-5,
        "llama.rope.dimension_count": N_EMBD // 4,
        "general.file_type": 0,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "smollm",
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.padding_token_id": 2,
        "tokenizer.ggml.add_bos_token": False,
    }
    meta.update(overrides)
    if template is None and "tokenizer.chat_template" in overrides:
        template = ""  # the override below is the template
    for key, value in meta.items():
        if value is None:
            continue
        for kv in writer.kv_data:  # general.architecture is written by the constructor
            kv.pop(key, None)
        if isinstance(value, tuple):  # (value, GGUF type): a deliberately odd type
            writer.add_key_value(key, value[0], gguf.GGUFValueType(value[1]))
        elif isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        else:
            writer.add_string(key, str(value))
    tables: dict[str, tuple[list, int] | None] = {
        "tokenizer.ggml.tokens": (tokens, _STRING),
        "tokenizer.ggml.token_type": ([int(t) for t in types], 5),
        "tokenizer.ggml.merges": (merges, _STRING),
    }
    tables.update(arrays or {})
    for key, table in tables.items():
        if table is not None:
            items, item_type = table
            writer.add_key_value(
                key, items, gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType(item_type)
            )
    if template != "":
        writer.add_string("tokenizer.chat_template", template or default_template)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    n_kv = N_EMBD // 2
    writer.add_tensor("token_embd.weight", weight(N_VOCAB, N_EMBD))
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight", weight(N_EMBD, N_EMBD))
    writer.add_tensor("blk.0.attn_k.weight", weight(n_kv, N_EMBD))
    writer.add_tensor("blk.0.attn_v.weight", weight(n_kv, N_EMBD))
    writer.add_tensor("blk.0.attn_output.weight", weight(N_EMBD, N_EMBD))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", weight(N_FF, N_EMBD))
    writer.add_tensor("blk.0.ffn_up.weight", weight(N_FF, N_EMBD))
    writer.add_tensor("blk.0.ffn_down.weight", weight(N_EMBD, N_FF))
    if extra_tensor:
        writer.add_tensor(extra_tensor, np.ones(N_EMBD, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# -- where each field sits -----------------------------------------------------------------
@dataclass
class KeyValue:
    key: str
    start: int  # the key's length field
    type_pos: int  # the value type
    value_pos: int  # the value (for a string: its length; for an array: the item type)
    vtype: int
    end: int


@dataclass
class TensorField:
    name: str
    start: int  # the name's length field
    ndims_pos: int
    dims_pos: int
    type_pos: int
    offset_pos: int
    end: int


@dataclass
class Layout:
    """Byte positions of every header field of a well-formed GGUF (version 3)."""

    size: int
    data: bytes = b""
    kvs: dict[str, KeyValue] = field(default_factory=dict)
    tensors: dict[str, TensorField] = field(default_factory=dict)
    infos_start: int = 0
    infos_end: int = 0
    data_start: int = 0

    @classmethod
    def of(cls, data: bytes) -> Layout:
        lay = cls(len(data), bytes(data))
        pos = 24
        n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)

        def string(at: int) -> tuple[str, int]:
            (n,) = struct.unpack_from("<Q", data, at)
            return data[at + 8 : at + 8 + n].decode(), at + 8 + n

        def skip_value(at: int, vtype: int) -> int:
            if vtype in _SCALAR_SIZES:
                return at + _SCALAR_SIZES[vtype]
            if vtype == _STRING:
                return string(at)[1]
            itype, count = struct.unpack_from("<IQ", data, at)
            at += 12
            for _ in range(count):
                at = skip_value(at, itype)
            return at

        for _ in range(n_kv):
            key, type_pos = string(pos)
            (vtype,) = struct.unpack_from("<I", data, type_pos)
            end = skip_value(type_pos + 4, vtype)
            lay.kvs[key] = KeyValue(key, pos, type_pos, type_pos + 4, vtype, end)
            pos = end
        lay.infos_start = pos
        for _ in range(n_tensors):
            name, ndims_pos = string(pos)
            (ndims,) = struct.unpack_from("<I", data, ndims_pos)
            type_pos = ndims_pos + 4 + 8 * ndims
            offset_pos = type_pos + 4
            lay.tensors[name] = TensorField(
                name, pos, ndims_pos, ndims_pos + 4, type_pos, offset_pos, offset_pos + 8
            )
            pos = offset_pos + 8
        lay.infos_end = pos
        lay.data_start = (pos + ALIGN - 1) // ALIGN * ALIGN
        return lay


# -- the corruptions -----------------------------------------------------------------------
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


def base_model() -> Path:
    """The well-formed tiny model every variant starts from (built once, cached)."""
    folder = models.cache_dir() / "hostile"
    folder.mkdir(exist_ok=True)
    target = folder / "tiny-base.gguf"
    with models._locked("hostile"):
        if not target.exists():
            tmp = write_tiny(folder / "tiny-base.partial")
            tmp.replace(target)
    return target


def write_variants(folder: Path, variants: tuple[Variant, ...] = VARIANTS) -> dict[str, Path]:
    """Every corruption of the tiny model, as `folder/NAME.gguf`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = base_model().read_bytes()
    lay = Layout.of(data)
    out: dict[str, Path] = {}
    for variant in variants:
        path = folder / f"{variant.name}.gguf"
        if variant.build is not None:
            write_tiny(path, **variant.build)
        else:
            assert variant.corrupt is not None
            path.write_bytes(variant.corrupt(bytearray(data), lay))
        out[variant.name] = path
    return out


def template_model(path: Path, template: str) -> Path:
    """The tiny model with `template` as its chat template."""
    return write_tiny(path, template=template)


# -- chat templates that try to leave Jinja's sandbox --------------------------------------
# Each would create the file `{marker}` if it ever ran code (CVE-2024-34359 and the classic
# server-side template injection payloads). `{marker}` is filled in by `sandbox_escapes()`.
_ESCAPES = {
    "cve-2024-34359": "{{ self._TemplateReference__context.cycler.__init__.__globals__.os"
    ".popen('touch {marker}').read() }}",
    "cycler-globals": "{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}",
    "joiner-globals": "{{ joiner.__init__.__globals__.os.system('touch {marker}') }}",
    "namespace-globals": "{{ namespace.__init__.__globals__.os.system('touch {marker}') }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'].popen('touch {marker}').read() }}",
    "subclasses-popen": "{% for c in ''.__class__.__mro__[1].__subclasses__() %}"
    "{% if c.__name__ == 'Popen' %}{{ c(['touch', '{marker}']) }}{% endif %}{% endfor %}",
    "attr-filter": "{{ (cycler|attr('__init__')|attr('__globals__'))['os']"
    ".system('touch {marker}') }}",
    "escaped-attr-filter": "{{ (cycler|attr('\\x5f\\x5finit\\x5f\\x5f')"
    "|attr('\\x5f\\x5fglobals\\x5f\\x5f'))['os'].system('touch {marker}') }}",
    "format-string": "{{ '{0.__init__.__globals__[os].system}'.format(cycler)('touch {marker}') }}",
    "helper-globals": "{{ raise_exception.__globals__['__builtins__']['__import__']('os')"
    ".system('touch {marker}') }}",
    "strftime-globals": "{{ strftime_now.__globals__.datetime.__class__ }}"
    "{{ strftime_now.__globals__['os'].system('touch {marker}') }}",
    "message-class": "{% for m in messages %}{{ m.__class__.__base__.__subclasses__() }}"
    "{% endfor %}{{ 'touch {marker}' }}",
    "mutate-messages": "{{ messages.append({'role': 'system', 'content': 'touch {marker}'}) }}",
    "set-class": "{% set o = ''.__class__.__base__ %}{{ o.__subclasses__() }}",
    "only-on-second-turn": "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    "{% if messages|length > 1 %}{{ cycler.__init__.__globals__.os.system('touch {marker}') }}"
    "{% endif %}",
}


def sandbox_escapes(marker: Path) -> dict[str, str]:
    """The payloads, each aimed at creating `marker`."""
    return {name: t.replace("{marker}", str(marker)) for name, t in _ESCAPES.items()}
