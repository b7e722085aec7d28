"""Hostile GGUF files: a tiny loadable model, then byte-level corruptions of it.

`tiny_model()` writes a real llama model small enough to copy dozens of times
(one layer, 64 dimensions, the first 512 tokens of SmolLM2's tokenizer and its
ChatML template): llama.cpp loads it and generates (nonsense) with it, so every
corruption reaches the code that would read a real model. `Layout` finds where
each field of the header sits; each variant (tests/support/hostile_variants.py)
breaks one of them.
`template_model()` is the same model with another chat template (sandbox escapes).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support import models

if TYPE_CHECKING:
    from tests.support.hostile_variants import Variant

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


def write_variants(folder: Path, variants: Sequence[Variant]) -> dict[str, Path]:
    """Each variant (tests/support/hostile_variants.py) of the tiny model, as `folder/NAME.gguf`."""
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
