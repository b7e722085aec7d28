"""Quantization names: from `general.file_type`, from file names, and what they mean."""

from __future__ import annotations

import re

# general.file_type (llama_ftype) -> the name people use (llama.cpp's own table).
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
}

# Longest names first so Q4_K_M wins over Q4_K and IQ4_XS over IQ4.
_QUANT_NAMES = sorted(
    set(FILE_TYPES.values())
    | {
        "Q4_K_L",
        "Q5_K_L",
        "Q6_K_L",
        "Q3_K_XL",
        "Q2_K_L",
        "Q8_K_XL",
        "Q4_K_XL",
        "Q5_K_XL",
        "Q6_K_XL",
        "IQ4_NL_4_4",
        "Q4_0_4_4",
        "Q4_0_4_8",
        "Q4_0_8_8",
        "UD-Q4_K_XL",
    },
    key=len,
    reverse=True,
)
_QUANT_RE = re.compile(
    r"(?<![A-Za-z0-9])(" + "|".join(re.escape(n) for n in _QUANT_NAMES) + r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# Nominal bits per weight, used only to sort names when no file is at hand.
NOMINAL_BPW: dict[str, float] = {
    "IQ1_S": 1.56,
    "IQ1_M": 1.75,
    "TQ1_0": 1.69,
    "IQ2_XXS": 2.06,
    "IQ2_XS": 2.31,
    "TQ2_0": 2.06,
    "IQ2_S": 2.5,
    "IQ2_M": 2.7,
    "Q2_K_S": 2.9,
    "Q2_K": 3.0,
    "Q2_K_L": 3.2,
    "IQ3_XXS": 3.06,
    "IQ3_XS": 3.3,
    "IQ3_S": 3.44,
    "Q3_K_S": 3.5,
    "IQ3_M": 3.66,
    "Q3_K_M": 3.9,
    "Q3_K_L": 4.3,
    "Q3_K_XL": 4.4,
    "IQ4_XS": 4.25,
    "IQ4_NL": 4.5,
    "Q4_0": 4.5,
    "Q4_K_S": 4.6,
    "Q4_1": 5.0,
    "Q4_K_M": 4.85,
    "Q4_K_L": 5.1,
    "Q4_K_XL": 5.0,
    "Q5_0": 5.5,
    "Q5_K_S": 5.5,
    "Q5_1": 6.0,
    "Q5_K_M": 5.7,
    "Q5_K_L": 5.9,
    "Q6_K": 6.56,
    "Q6_K_L": 6.8,
    "Q8_0": 8.5,
    "Q8_K_XL": 9.0,
    "F16": 16.0,
    "BF16": 16.0,
    "F32": 32.0,
    "MXFP4_MOE": 4.25,
}


def quant_from_file_type(file_type: object) -> str | None:
    return FILE_TYPES.get(file_type) if isinstance(file_type, int) else None


def quant_from_filename(name: str) -> str | None:
    """The quantization named in a file name (`…-Q4_K_M.gguf`, `….q8_0.gguf`)."""
    matches = _QUANT_RE.findall(name)
    return matches[-1].upper() if matches else None


def quant_name(file_type: object, filename: str) -> str:
    """Prefer the file name where it is more specific (Q4_K_L is stored as Q4_K_M)."""
    from_name = quant_from_filename(filename)
    from_type = quant_from_file_type(file_type)
    if from_name and (from_type is None or from_name.removeprefix("UD-")[:4] == from_type[:4]):
        return from_name
    return from_type or from_name or "unknown"


def quality_hint(quant: str) -> str:
    """The usual one-line guidance people give for each quantization."""
    q = quant.upper()
    if q.startswith("IQ1") or q.startswith("TQ1"):
        return "extremely low quality"
    if q.startswith(("IQ2", "Q2", "TQ2")):
        return "very low quality"
    if q in ("IQ3_XXS", "IQ3_XS", "Q3_K_S"):
        return "low quality"
    if q.startswith(("IQ3", "Q3")):
        return "lower quality, small"
    if q in ("IQ4_XS", "IQ4_NL", "Q4_K_S", "Q4_0", "Q4_1"):
        return "decent quality, smaller"
    if q.startswith("Q4_K"):
        return "good default"
    if q.startswith("Q5"):
        return "high quality"
    if q.startswith("Q6"):
        return "very high quality, near lossless"
    if q.startswith("Q8"):
        return "near lossless, large"
    if q in ("F16", "BF16", "F32"):
        return "unquantized, largest"
    return ""


_SHARD_SUFFIX_RE = re.compile(r"-\d{5}-of-\d{5}$", re.IGNORECASE)
_SEPARATORS = "-_. "


def model_base_name(filename: str) -> str:
    """The model part of a GGUF file name: no folder, extension, shard suffix or quant.

    `SmolLM2-135M-Instruct-Q4_K_M.gguf` and `Q8_0/SmolLM2-135M-Instruct-Q8_0-00001-of-00002.gguf`
    both give `SmolLM2-135M-Instruct`, so sibling quantizations can be grouped.
    """
    stem = filename.rsplit("/", 1)[-1]
    if stem.lower().endswith(".gguf"):
        stem = stem[:-5]
    stem = _SHARD_SUFFIX_RE.sub("", stem)
    stripped = _QUANT_RE.sub("", stem)
    # Removing `Q4_K_M` from `name-Q4_K_M-imat` leaves `name--imat`: squeeze the separators.
    stripped = re.sub(r"([-_. ])[-_. ]+", r"\1", stripped).strip(_SEPARATORS)
    return stripped or stem
