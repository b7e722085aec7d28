"""What llama.cpp would choke on, found before it sees the file.

llama.cpp refuses most broken files with an error, but a few faults end in a
`GGML_ASSERT` that aborts the whole process (the app with it): a layer count of 0
or above 512, impossible expert counts, a vocabulary that lists a token twice
(found while the header is read, see `gguf_file`). Others it reports only as
"failed to read tensor info". These checks turn both into a plain reason, for the
catalog (a broken entry) and before every load.
"""

from __future__ import annotations

from pathlib import Path

from gguf_tui.models.gguf_file import (
    GGML_TYPE_SIZES,
    GGUFError,
    GGUFHeader,
    check_magic,
    listed,
    read_header,
    shard_paths,
    shard_problem,
)

# llama.cpp's compile-time limits (src/llama-hparams.h in the llama.cpp that
# llama-cpp-python 0.3.36 vendors); beyond them its loader aborts the process.
MAX_LAYERS = 512
MAX_EXPERTS = 512
_INT64_MAX = (1 << 63) - 1


def check_tensor_table(header: GGUFHeader) -> None:
    """Types, shapes and offsets as llama.cpp's GGUF reader demands them: every tensor
    of a known type, its rows whole blocks, and the data packed in order."""
    name = header.path.name
    expected = 0
    for t in header.tensors:
        size = GGML_TYPE_SIZES.get(t.ggml_type)
        if size is None:
            raise GGUFError(
                f"{name}: tensor '{t.name}' has data type {t.ggml_type}, which this version "
                "does not know (a newer format, or a corrupt file)"
            )
        n = 1
        for d in t.shape:
            n *= d
        if any(d > _INT64_MAX for d in t.shape) or n > _INT64_MAX:
            raise GGUFError(f"{name}: tensor '{t.name}' claims the shape {t.shape}: corrupt")
        if t.shape and t.shape[0] % size[0]:
            raise GGUFError(f"{name}: tensor '{t.name}' has rows of a size its type cannot hold")
        if t.offset != expected:
            raise GGUFError(
                f"{name}: tensor '{t.name}' starts at byte {t.offset:,} of the data, where "
                f"{expected:,} was expected: the tensor table is corrupt"
            )
        nbytes = t.n_bytes or 0
        expected += (nbytes + header.alignment - 1) // header.alignment * header.alignment


def check_model(header: GGUFHeader) -> None:
    """The hyperparameters every llama.cpp architecture reads, in the ranges it asserts.

    Only for a whole model or a split model's first shard (later shards carry no
    hyperparameters)."""
    md = header.metadata
    name = header.path.name
    arch = md.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise GGUFError(f"{name} has no general.architecture: it is not a model file")

    def count(key: str) -> int | None:
        value = md.get(f"{arch}.{key}")
        if isinstance(value, list):  # some models give one value per layer
            value = max((v for v in value if isinstance(v, int)), default=None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    layers = count("block_count")
    if layers is not None and not 0 < layers <= MAX_LAYERS:
        raise GGUFError(f"{name} claims {layers:,} layers (llama.cpp allows 1 to {MAX_LAYERS})")
    experts = count("expert_count") or 0
    used = count("expert_used_count") or 0
    groups = count("expert_group_count") or 0
    groups_used = count("expert_group_used_count") or 0
    problem = ""
    if experts > MAX_EXPERTS:
        problem = f"{experts:,} experts (llama.cpp allows up to {MAX_EXPERTS})"
    elif used > experts:
        problem = f"{used} experts used per token out of {experts}"
    elif experts and not used:
        problem = f"{experts} experts but none used per token"
    elif experts and groups >= experts:
        problem = f"{groups} expert groups for {experts} experts"
    elif groups > 1 and (experts % groups or not 0 < groups_used < groups):
        problem = f"{groups} expert groups ({groups_used} used) for {experts} experts"
    elif not experts and groups:
        problem = f"{groups} expert groups but no experts"
    if problem:
        raise GGUFError(f"{name} claims {problem}: corrupt")


def check_loadable(path: str | Path) -> GGUFHeader:
    """Everything that can be known about a model file before llama.cpp sees it.

    Catches the common faults with a message a person understands: missing
    file, empty or non-GGUF file, a truncated download, a missing shard.
    """
    path = Path(path)
    check_magic(path)
    if problem := shard_problem(path):
        raise GGUFError(problem)
    shards = shard_paths(path)
    try:  # one listing, not a stat per shard: a name may claim 99,999 of them
        present = {p.name for p in path.parent.iterdir()}
    except OSError:
        present = {p.name for p in shards}
    missing = [p.name for p in shards if p.name not in present or not p.exists()]
    if missing:
        raise GGUFError(
            f"{path.name} is one shard of a split model; missing: {listed(missing)} "
            f"({len(missing):,} of its {len(shards):,} files)"
        )
    headers = [read_header(p) for p in shards]
    check_model(headers[0])
    for shard in headers:
        check_tensor_table(shard)
        end = shard.data_end
        if end is not None and end > shard.file_size:
            have = shard.file_size
            raise GGUFError(
                f"{shard.path.name} is truncated: {have:,} of {end:,} bytes "
                f"({have / end:.0%}); download it again"
            )
    return headers[0]
