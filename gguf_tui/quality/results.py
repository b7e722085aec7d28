"""Measured quality, kept: what the f3 switcher, the picker and bench show where known.

One JSON file in the data folder (`quality.json`), a list of records keyed by the model
file's identity (real path, size, modification time: a re-downloaded file is a new
file), the reference's identity, the text's digest and the chunk size. Bounded: at most
MAX_RECORDS (the newest kept) and MAX_FILE_BYTES read; a broken file reads as empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "quality.json"
MAX_RECORDS = 500
MAX_FILE_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class QualityRecord:
    model: str  # the file's real path
    size: int
    mtime_ns: int
    quant: str
    reference: str  # the reference's real path
    reference_quant: str
    text: str  # label: "the sample text", a file name, "conversation 12"
    text_digest: str
    ctx: int
    tokens: int
    kld_mean: float
    kld_p99: float
    top1_agreement: float
    ppl: float
    ppl_reference: float
    seconds: float
    measured_at: float


def identity(path: str | os.PathLike) -> tuple[str, int, int] | None:
    real = os.path.realpath(path)
    try:
        st = Path(real).stat()
    except OSError:
        return None
    return real, st.st_size, st.st_mtime_ns


def results_file(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def load(data_dir: Path) -> list[QualityRecord]:
    from gguf_tui.store.files import FileError, read_bytes

    try:
        raw = json.loads(read_bytes(results_file(data_dir), MAX_FILE_BYTES))
    except (OSError, FileError, ValueError, UnicodeDecodeError, RecursionError):
        return []
    out: list[QualityRecord] = []
    for item in raw if isinstance(raw, list) else []:
        with contextlib.suppress(TypeError, ValueError):
            record = QualityRecord(**item)
            if isinstance(record.model, str) and isinstance(record.kld_mean, int | float):
                out.append(record)
    return out


def save(data_dir: Path, records: list[QualityRecord]) -> None:
    """Add `records`, replacing any with the same key; the newest MAX_RECORDS kept."""
    from gguf_tui.store.files import write_atomic

    def key(r: QualityRecord) -> tuple:
        return (r.model, r.size, r.mtime_ns, r.reference, r.text_digest, r.ctx)

    fresh = {key(r) for r in records}
    kept = [r for r in load(data_dir) if key(r) not in fresh] + list(records)
    kept = kept[-MAX_RECORDS:]
    data_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps([asdict(r) for r in kept], indent=1, allow_nan=False)
    write_atomic(results_file(data_dir), text.encode("utf-8"))


def record_for(score: Any, text: Any, ctx: int, reference: Path) -> QualityRecord | None:
    """A ModelScore (scorer) as a record to keep; None for a failed row or a vanished file."""
    ident = identity(score.path)
    ref = identity(reference)
    if not score.ok or ident is None or ref is None:
        return None
    return QualityRecord(
        model=ident[0],
        size=ident[1],
        mtime_ns=ident[2],
        quant=score.quant,
        reference=ref[0],
        reference_quant=score.reference,
        text=text.label,
        text_digest=text.digest,
        ctx=ctx,
        tokens=score.tokens,
        kld_mean=score.kld_mean,
        kld_p99=score.kld_p99,
        top1_agreement=score.top1_agreement,
        ppl=score.ppl,
        ppl_reference=score.ppl_reference,
        seconds=score.seconds,
        measured_at=time.time(),
    )


def lookup(
    data_dir: Path,
    model: str | os.PathLike,
    records: list[QualityRecord] | None = None,
    text_digest: str | None = None,
) -> QualityRecord | None:
    """The newest measurement of this very file (any text unless `text_digest`)."""
    ident = identity(model)
    if ident is None:
        return None
    found = None
    for r in load(data_dir) if records is None else records:
        if (r.model, r.size, r.mtime_ns) != ident:
            continue
        if text_digest is not None and r.text_digest != text_digest:
            continue
        if found is None or r.measured_at >= found.measured_at:
            found = r
    return found


def label(record: QualityRecord) -> str:
    """The switcher's quality cell: "KLD 0.021 · 97.1 % same top token vs Q8_0"."""
    return (
        f"KLD {record.kld_mean:.3f} · {record.top1_agreement:.1f} % same top token "
        f"vs {record.reference_quant}"
    )


def quality_text(
    data_dir: Path,
    model: str | os.PathLike,
    quant: str,
    records: list[QualityRecord] | None = None,
) -> tuple[str, bool]:
    """What a quant chooser shows for `model`: the measured label where this very file was
    scored (True), else the lookup-table guess for its quantization (False). Pass
    `records=load(data_dir)` when asking for many rows, so the file is read once."""
    from gguf_tui.models.quant import quality_hint

    found = lookup(data_dir, model, records)
    if found is not None:
        return label(found), True
    return quality_hint(quant), False


def matching(
    records: list[QualityRecord],
    model: str | os.PathLike,
    reference: str | os.PathLike,
    text_digest: str,
    ctx: int,
    min_tokens: int = 0,
) -> QualityRecord | None:
    """The newest record of this very file against this very reference, on this text and
    chunk size, that scored at least `min_tokens` positions: one that can stand for a
    fresh score (what `bench --quality` reuses)."""
    ident, ref = identity(model), identity(reference)
    if ident is None or ref is None:
        return None
    found = None
    for r in records:
        if (r.model, r.size, r.mtime_ns) != ident or r.reference != ref[0]:
            continue
        if r.text_digest != text_digest or r.ctx != ctx or r.tokens < min_tokens:
            continue
        if found is None or r.measured_at >= found.measured_at:
            found = r
    return found
