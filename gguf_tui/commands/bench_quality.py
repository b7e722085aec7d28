"""`gguf-tui bench --quality`: each model's KLD, same top token and perplexity beside
its speed and memory (see commands/bench.py).

The scoring is `gguf-tui quality`'s (gguf_tui/quality/scorer.py), in this process, one
model in memory at a time, before the speed runs (so a text too short or a missing
reference is said before minutes of measuring). A score kept from an earlier run of the
same file against the same reference, on the same text and chunk size (quality.json),
stands for a fresh one: said ("kept"), not measured again, unless --rescore.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gguf_tui.commands import common

if TYPE_CHECKING:
    from gguf_tui.quality.texts import ScoreText

MAX_QUALITY_CTX = 1 << 16


def check_args(args: argparse.Namespace) -> None:
    if not 16 <= args.ctx <= MAX_QUALITY_CTX:
        raise common.CliError(f"--ctx: {args.ctx} is outside 16 to {MAX_QUALITY_CTX:,} tokens")
    if args.chunks is not None and args.chunks < 1:
        raise common.CliError(f"--chunks: {args.chunks} is below 1")
    if args.within is not None and not args.within >= 0:
        raise common.CliError(f"--within: {args.within} is not a KLD (0 or more)")


@dataclass
class QualityFigures:
    """One model's quality, measured now or kept from an earlier run (`kept`)."""

    kld_mean: float = math.nan
    kld_p99: float = math.nan
    top1_agreement: float = math.nan
    ppl: float = math.nan
    ppl_reference: float = math.nan
    tokens: int = 0
    kept: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not math.isnan(self.kld_mean)


@dataclass
class QualityRun:
    """What `--quality` scores against, on what, and each model's figures by path."""

    reference: Path
    reference_quant: str
    why: str
    text: ScoreText
    ctx: int
    chunks: int | None
    within: float | None
    rescore: bool
    n_threads: int | None
    n_gpu_layers: int
    models: list[Path]
    scores: dict[str, QualityFigures]

    def figures(self, result) -> QualityFigures | None:
        return self.scores.get(str(result.path))

    def smallest_within(self, results: list) -> str | None:
        """The path of the smallest benchmarked file whose mean KLD is within `within`."""
        if self.within is None:
            return None
        fits = [
            r
            for r in results
            if r.ok and (f := self.figures(r)) is not None and f.ok and f.kld_mean <= self.within
        ]
        return str(min(fits, key=lambda r: r.size_bytes).path) if fits else None

    def keys_for(self, result, smallest: str | None = None) -> dict[str, object]:
        """The `--json` quality keys of one result (None where not measured)."""
        f = self.figures(result) or QualityFigures(error="not scored")

        def num(v: float) -> float | None:
            return None if math.isnan(v) else v

        return {
            "reference": self.reference_quant,
            "kld_mean": num(f.kld_mean),
            "kld_p99": num(f.kld_p99),
            "top1_agreement": num(f.top1_agreement),
            "ppl": num(f.ppl),
            "ppl_reference": num(f.ppl_reference),
            "ppl_delta": num(f.ppl - f.ppl_reference),
            "quality_tokens": f.tokens,
            "quality_kept": f.kept,
            "quality_error": f.error or None,
            "smallest_within": smallest is not None and str(result.path) == smallest,
        }

    def to_dict(self, results: list) -> dict[str, object]:
        return {
            "reference": str(self.reference),
            "reference_quant": self.reference_quant,
            "reference_why": self.why,
            "text": self.text.label,
            "ctx": self.ctx,
            "chunks": self.chunks,
            "within": self.within,
            "smallest_within": self.smallest_within(results),
        }


def plan(args: argparse.Namespace, ctx: common.Context, paths: list[Path]) -> QualityRun:
    """The reference (as `gguf-tui quality` chooses it) and the text, said on stderr."""
    from gguf_tui.commands.output import say
    from gguf_tui.config.options import gpu_layers
    from gguf_tui.quality import texts
    from gguf_tui.quality.reference import NoReference, choose_reference

    try:
        text = texts.file_text(Path(args.text).expanduser()) if args.text else texts.sample_text()
    except texts.TextError as exc:
        raise common.CliError(str(exc)) from None
    given = Path(args.reference).expanduser() if args.reference else None
    try:
        ref = choose_reference(paths, given)
    except NoReference as exc:
        raise common.CliError(str(exc)) from None
    how = "" if ref.why == "given" else f", {ref.why}"
    say(f"gguf-tui: quality against {ref.path.name} ({ref.quant}{how}); text: {text.label}")
    return QualityRun(
        reference=ref.path,
        reference_quant=ref.quant,
        why=ref.why,
        text=text,
        ctx=args.ctx,
        chunks=args.chunks,
        within=args.within,
        rescore=args.rescore,
        n_threads=args.threads,
        # --n-gpu-layers is bench's load option (auto or a count); unset: the CPU, as before
        n_gpu_layers=0 if args.n_gpu_layers is None else gpu_layers(args.n_gpu_layers),
        models=paths,
        scores={},
    )


def score_missing(run: QualityRun, ctx: common.Context) -> bool:
    """Fill `run.scores`: kept figures where they match, else scored now (and kept).
    False when Ctrl+C stopped the scoring."""
    from gguf_tui.commands.output import say
    from gguf_tui.commands.quality import ProgressBar
    from gguf_tui.models.quant import quant_from_filename
    from gguf_tui.quality import results as kept
    from gguf_tui.quality.scorer import Cancelled, QualityError, RunConfig, score

    text = run.text
    records = [] if run.rescore else kept.load(ctx.paths.data_dir)
    to_score: list[Path] = []
    # --chunks K asks for K chunks' worth of scored positions (the second half of each)
    least = (run.chunks or 0) * (run.ctx - 1 - run.ctx // 2)
    for path in run.models:
        found = kept.matching(records, path, run.reference, text.digest, run.ctx, least)
        if found is None:
            if path not in to_score:
                to_score.append(path)
            continue
        run.scores[str(path)] = QualityFigures(
            found.kld_mean,
            found.kld_p99,
            found.top1_agreement,
            found.ppl,
            found.ppl_reference,
            found.tokens,
            kept=True,
        )
        quant = quant_from_filename(path.name) or path.name
        say(
            f"[quality] {quant}: kept · KLD {found.kld_mean:.4f} · "
            f"{found.top1_agreement:.1f} % same top token"
        )
    if not to_score:
        return True
    config = RunConfig(
        ctx=run.ctx, chunks=run.chunks, n_threads=run.n_threads, n_gpu_layers=run.n_gpu_layers
    )
    bar = ProgressBar(sys.stderr, to_score, run.reference)
    try:
        rows = score(
            to_score,
            run.reference,
            text.text,
            config,
            work_dir=ctx.paths.data_dir / "tmp",
            progress=bar.update,
            on_result=bar.finished,
        )
    except Cancelled:
        return False
    except QualityError as exc:
        raise common.CliError(f"quality: {exc}") from None
    finally:
        bar.close()
    for row in rows:
        run.scores[row.path] = QualityFigures(
            row.kld_mean,
            row.kld_p99,
            row.top1_agreement,
            row.ppl,
            row.ppl_reference,
            row.tokens,
            error=row.error,
        )
    records_now = [kept.record_for(r, text, run.ctx, run.reference) for r in rows]
    try:
        kept.save(ctx.paths.data_dir, [r for r in records_now if r is not None])
    except OSError as exc:
        say(f"gguf-tui: warning: the quality scores were not kept: {exc}")
    return True


NOT_SCORED = "not scored"


def quality_cells(figures: QualityFigures | None) -> tuple[str, str, str]:
    """KLD, SAME TOP and PPL cells: `-` where the scoring failed (the legend says why)."""
    if figures is None:
        return (NOT_SCORED, "", "")
    if not figures.ok:
        return ("-", "-", "-")
    return (
        f"{figures.kld_mean:.4f}",
        f"{figures.top1_agreement:.1f} %",
        f"{figures.ppl:.2f}",
    )


def legend(results: list, quality: QualityRun, whole) -> str:
    """What the quality columns are measured against, which were kept, what `*` marks."""
    text_label = quality.text.label
    ref = whole(quality.reference_quant)
    ppl_ref = next(
        (f.ppl_reference for f in quality.scores.values() if f.ok and f.ppl_reference > 0),
        math.nan,
    )
    ref_ppl = "" if math.isnan(ppl_ref) else f" (whose PPL is {ppl_ref:.2f})"
    text = (
        f"{whole('KLD:')} how far the next-token probabilities are from {ref}'s{ref_ppl} "
        f"on {text_label}, chunks of {quality.ctx} tokens (0 = the same); "
        f"{whole('SAME TOP:')} how often both put the same token first."
    )
    kept = [r.label for r in results if (f := quality.figures(r)) is not None and f.kept]
    if kept:
        text += f" Kept from an earlier run, not scored again: {', '.join(kept)}."
    if quality.within is not None:
        smallest = quality.smallest_within(results)
        best = next((r for r in results if str(r.path) == smallest), None)
        if best is None:
            text += f" No model is within KLD {quality.within:g} of {ref}."
        else:
            text += f" {whole('*')} the smallest within KLD {quality.within:g}: {best.label}."
    return text
