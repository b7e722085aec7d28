"""Which file a model is measured against: the highest-precision sibling on disk.

Siblings are the other quantizations of the same model (same base name, see
models.quant.model_base_name) in the same folder as any model given, plus the given
models themselves. The most bits per weight wins (F32 > BF16 = F16 > Q8_0 > …); a tie
goes to the file named first. The choice is always said, never silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gguf_tui.models.gguf_file import shard_info
from gguf_tui.models.quant import NOMINAL_BPW, model_base_name, quant_from_filename


class NoReference(Exception):
    """No file can be the reference: the message says what to pass instead."""


@dataclass(frozen=True, slots=True)
class Reference:
    path: Path
    quant: str
    why: str  # "given", or how it was chosen


def _bpw(path: Path) -> float:
    return NOMINAL_BPW.get(quant_from_filename(path.name) or "", 0.0)


def _first_shard_or_whole(path: Path) -> bool:
    info = shard_info(path)
    return info is None or info[1] == 1


def siblings(model: Path) -> list[Path]:
    """The .gguf files beside `model` with its base name (split models by their first part)."""
    base = model_base_name(model.name)
    try:
        entries = sorted(model.parent.iterdir())
    except OSError:
        return []
    return [
        p
        for p in entries
        if p.suffix.lower() == ".gguf"
        and p.is_file()
        and _first_shard_or_whole(p)
        and model_base_name(p.name) == base
    ]


def choose_reference(models: list[Path], given: Path | None = None) -> Reference:
    if given is not None:
        if not given.is_file():
            raise NoReference(f"the reference {given} is not a file")
        return Reference(given, quant_from_filename(given.name) or given.name, "given")
    bases = {model_base_name(m.name) for m in models}
    if len(bases) > 1:
        raise NoReference(
            "these models are not quantizations of one model ("
            + ", ".join(sorted(bases))
            + "): give the reference with --reference FILE"
        )
    candidates: list[Path] = []
    for m in models:
        for p in [m, *siblings(m)]:
            if p not in candidates:
                candidates.append(p)
    ranked = [p for p in candidates if _bpw(p) > 0]
    if not ranked:
        raise NoReference(
            "no quantization can be read from these file names, so no reference can be "
            "chosen: give one with --reference FILE (the highest-precision copy, e.g. F16 or Q8_0)"
        )
    best = max(ranked, key=_bpw)  # max keeps the first of equals
    quant = quant_from_filename(best.name) or best.name
    others = len(candidates) - 1
    return Reference(best, quant, f"the highest-precision sibling of {others + 1} on disk")
