"""`gguf-tui quality MODEL...`: how far each quantization is from a reference, measured.

llama-perplexity's KL-divergence method (gguf_tui/quality/scorer.py): mean KL divergence
from the reference and its 99th percentile, how often the top token is the same, and
perplexity beside the reference's, on the shipped sample text, a file or a saved
conversation. One model in memory at a time; the reference's logits wait on disk.
Progress on stderr (a bar per model on a terminal); the table or JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import TextIO

from gguf_tui.commands import common

MAX_CTX = 1 << 16


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quality",
        help="measure quantizations' quality against a reference (KL divergence)",
        description="Score each MODEL against a reference (default: the highest-precision "
        "sibling on disk, e.g. F16 or Q8_0) with llama-perplexity's method: the text is cut "
        "into chunks of --ctx tokens and the second half of each is scored. KLD is how far "
        "the model's next-token probabilities are from the reference's (0 = the same); SAME "
        "TOP is how often both would pick the same token. Results are kept for the app's "
        "quant switcher. Exit status 1 when a model failed (its row says why).",
    )
    p.add_argument(
        "models", metavar="MODEL", nargs="+", help="a .gguf file, REPO:QUANT or a local name"
    )
    p.add_argument("--reference", metavar="FILE", help="the model to compare against")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--text", metavar="FILE", help="a UTF-8 text file to score on")
    src.add_argument(
        "--conversation", type=int, metavar="ID", help="a saved conversation's own text"
    )
    p.add_argument(
        "--ctx", type=int, default=512, metavar="N", help="tokens per chunk (default 512)"
    )
    p.add_argument("--chunks", type=int, metavar="K", help="score at most K chunks")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    m = p.add_argument_group("model")
    m.add_argument("--threads", type=int, metavar="N", help="CPU threads")
    m.add_argument(
        "--n-gpu-layers", type=int, metavar="N", help="layers to offload to the GPU (-1 all)"
    )
    common.add_data_options(p)


def _check_args(args: argparse.Namespace) -> None:
    if not 16 <= args.ctx <= MAX_CTX:
        raise common.CliError(f"--ctx: {args.ctx} is outside 16 to {MAX_CTX:,} tokens")
    if args.chunks is not None and args.chunks < 1:
        raise common.CliError(f"--chunks: {args.chunks} is below 1")


def _text(args: argparse.Namespace, ctx: common.Context):
    from gguf_tui.quality import texts

    try:
        if args.text:
            return texts.file_text(Path(args.text).expanduser())
        if args.conversation is not None:
            return _conversation(args.conversation, ctx)
        return texts.sample_text()
    except texts.TextError as exc:
        raise common.CliError(str(exc)) from None


def _conversation(conversation_id: int, ctx: common.Context):
    from gguf_tui.quality import texts
    from gguf_tui.store.database import Store, StoreError

    path = ctx.paths.database
    if not path.exists():
        raise common.CliError(f"no conversations yet ({path} does not exist)")
    try:
        with Store(path, read_only=True) as store:
            if store.get_conversation(conversation_id) is None:
                raise common.CliError(
                    f"no conversation with ID {conversation_id} (gguf-tui export --list)"
                )
            messages = store.messages(conversation_id)
    except StoreError as exc:
        raise common.CliError(str(exc)) from None
    return texts.conversation_text(messages, conversation_id)


def run(args: argparse.Namespace) -> int:
    from gguf_tui.commands.output import say
    from gguf_tui.quality import results as kept
    from gguf_tui.quality.reference import NoReference, choose_reference
    from gguf_tui.quality.scorer import Cancelled, QualityError, RunConfig, score

    _check_args(args)
    ctx = common.open_context(args)
    text = _text(args, ctx)
    models = [common.resolve_model(spec, ctx) for spec in args.models]
    given = Path(args.reference).expanduser() if args.reference else None
    try:
        ref = choose_reference(models, given)
    except NoReference as exc:
        raise common.CliError(str(exc)) from None
    how = "" if ref.why == "given" else f", {ref.why}"
    say(f"gguf-tui: reference: {ref.path.name} ({ref.quant}{how}); text: {text.label}")
    config = RunConfig(
        ctx=args.ctx,
        chunks=args.chunks,
        n_threads=args.threads,
        n_gpu_layers=args.n_gpu_layers or 0,
    )
    bar = ProgressBar(sys.stderr, models, ref.path)
    try:
        rows = score(
            models,
            ref.path,
            text.text,
            config,
            work_dir=ctx.paths.data_dir / "tmp",
            progress=bar.update,
            on_result=bar.finished,
        )
    except Cancelled as exc:
        bar.close()
        say(f"gguf-tui: {exc}")
        return 130
    except QualityError as exc:
        bar.close()
        raise common.CliError(str(exc)) from None
    bar.close()
    records = [kept.record_for(r, text, args.ctx, ref.path) for r in rows]
    try:
        kept.save(ctx.paths.data_dir, [r for r in records if r is not None])
    except OSError as exc:
        say(f"gguf-tui: warning: the results were not kept: {exc}")
    if args.json:
        json.dump([r.to_dict() for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(rows, sys.stdout)
    return 0 if all(r.ok for r in rows) else 1


def _num(value: float, fmt: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, fmt)


def print_table(rows: list, out: TextIO) -> None:
    from gguf_tui.commands.output import for_terminal, say

    shown = for_terminal(out)
    head = (
        f"{'MODEL':<34} {'QUANT':<8} {'KLD':>8} {'KLD P99':>8} {'SAME TOP':>9} "
        f"{'PPL':>8} {'ΔPPL':>8} {'TOKENS':>7} {'SECONDS':>8} {'TOK/S':>7}"
    )
    print(head, file=out)
    for r in rows:
        name = shown(r.model if len(r.model) <= 34 else r.model[:33] + "…")
        if not r.ok:
            say(f"{name:<34} {shown(r.quant):<8} failed: {shown(r.error)}", file=out)
            continue
        say(
            f"{name:<34} {shown(r.quant):<8} {_num(r.kld_mean, '.4f'):>8} "
            f"{_num(r.kld_p99, '.4f'):>8} {_num(r.top1_agreement, '.1f') + ' %':>9} "
            f"{_num(r.ppl, '.3f'):>8} {_num(r.ppl_delta, '+.3f'):>8} {r.tokens:>7} "
            f"{r.seconds:>8.1f} {r.tokens_per_second:>7.1f}",
            file=out,
        )
    ref = rows[0].reference if rows else ""
    say(
        f"\nAgainst {shown(ref)}: KLD is how far each model's next-token probabilities are "
        "from the reference's (0 = identical; mean and 99th percentile, in nats); SAME TOP is "
        "how often both put the same token first; ΔPPL is its perplexity minus the "
        f"reference's ({_num(rows[0].ppl_reference if rows else math.nan, '.3f')}).",
        file=out,
    )


class ProgressBar:
    """One bar per model on a terminal (kept when done), plain lines elsewhere."""

    WIDTH = 24

    def __init__(self, err: TextIO, models: list[Path], reference: Path) -> None:
        from gguf_tui.commands.output import is_terminal

        self.err, self.models, self.reference = err, models, reference
        self.tty = is_terminal(err)
        self._pending = False

    def _index(self, path: Path) -> int:
        return self.models.index(path) + 1 if path in self.models else 0

    def update(self, step) -> None:
        from gguf_tui.models.quant import quant_from_filename

        quant = quant_from_filename(step.path.name) or step.path.name
        if step.reference:
            label = f"[reference] {quant}"
        else:
            label = f"[{self._index(step.path)}/{len(self.models)}] {quant}"
        if step.stage == "loading":
            self._say(f"{label}: loading …")
            return
        filled = round(self.WIDTH * step.done / max(1, step.total))
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        rate = f"{step.tokens_per_second:.0f} tok/s"
        self._say(f"{label} {bar} {step.done}/{step.total} chunks · {rate}")

    def finished(self, row) -> None:
        n = self._index(Path(row.path))
        if row.ok:
            text = f"KLD {row.kld_mean:.4f} · {row.top1_agreement:.1f} % same top token"
        else:
            text = "failed (see the table)"
        self._say(f"[{n}/{len(self.models)}] {row.quant}: {text}", keep=True)

    def close(self) -> None:
        if self._pending:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self._pending = False

    def _say(self, line: str, keep: bool = False) -> None:
        from gguf_tui.commands.output import say
        from gguf_tui.tui.text import literal

        if not self.tty:
            say(line, file=self.err, flush=True)
            return
        try:
            cols = os.get_terminal_size(self.err.fileno()).columns
        except (OSError, ValueError, AttributeError):
            cols = 80
        if len(line) >= cols:
            line = line[: max(1, cols - 2)] + "…"
        self.err.write("\r" + literal(line) + "\x1b[K" + ("\n" if keep else ""))
        self.err.flush()
        self._pending = not keep
