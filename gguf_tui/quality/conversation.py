""" "Score this conversation": the quant in use against its reference, on the chat's own words.

The sample text says how a quant does on prose and code in general; a conversation
says how it does on what this user actually talks about (their language, their
code). The same scorer as `gguf-tui quality` runs, with the chunk size fitted to
the conversation (chats are short: a 512-token chunk would leave most of them
unscored), at most MAX_CHUNKS chunks so a long chat is scored in seconds, not
minutes, and the result kept like any other (the switcher then shows it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gguf_tui.quality import results
from gguf_tui.quality.reference import NoReference, Reference, choose_reference
from gguf_tui.quality.scorer import (
    Cancelled,
    ModelScore,
    Progress,
    QualityError,
    RunConfig,
    score,
)
from gguf_tui.quality.texts import ScoreText, TextError, conversation_text
from gguf_tui.store.records import Message

CHUNK_SIZES = (512, 256, 128, 64)  # tried largest first; a chunk's second half is scored
MAX_CHUNKS = 16
CHARS_PER_TOKEN = 3.0  # a low guess, so the first chunk size tried usually fits


@dataclass(frozen=True, slots=True)
class ConversationScore:
    """The figures of one run, with what they were measured on."""

    row: ModelScore
    reference: Reference
    ctx: int
    label: str  # the conversation's text label, as results keep it


def chunk_size_for(text: str) -> int:
    """The largest chunk size of which the text holds at least two chunks (one at the
    smallest): more scored tokens at a little less context each."""
    tokens = len(text) / CHARS_PER_TOKEN
    for ctx in CHUNK_SIZES:
        if tokens >= 2 * ctx:
            return ctx
    return CHUNK_SIZES[-1]


def reference_for(model: Path) -> Reference:
    """The highest-precision sibling on disk; NoReference when that is `model` itself."""
    ref = choose_reference([model])
    if ref.path.resolve() == model.resolve():
        raise NoReference(
            f"{model.name} is the highest-precision quantization on disk: download a "
            "higher one (Q8_0, F16) beside it to score against"
        )
    return ref


def score_conversation(
    model: Path,
    messages: list[Message],
    conversation_id: int,
    data_dir: Path,
    cancel: threading.Event,
    progress: Callable[[Progress], None] | None = None,
    n_threads: int | None = None,
) -> ConversationScore:
    """Score `model` against its reference on the conversation (blocking; run it in a
    thread). QualityError with a message for the user; Cancelled once `cancel` is set
    (checked between chunks). The result is kept in the data folder."""
    try:
        text = conversation_text(messages, conversation_id)
    except TextError as exc:
        raise QualityError(str(exc)) from None
    try:
        reference = reference_for(model)
    except NoReference as exc:
        raise QualityError(str(exc)) from None

    def step(p: Progress) -> None:
        if cancel.is_set():
            raise Cancelled("scoring was stopped: nothing was kept")
        if progress is not None:
            progress(p)

    ctx = chunk_size_for(text.text)
    while True:
        try:
            row = _score(model, reference, text, ctx, data_dir, step, n_threads)
            break
        except Cancelled:
            raise
        except QualityError as exc:
            smaller = [c for c in CHUNK_SIZES if c < ctx]
            if "shorter than one chunk" not in str(exc):
                raise
            if not smaller:
                raise QualityError(
                    "this conversation is too short to score: it needs at least "
                    f"{CHUNK_SIZES[-1]} tokens of text"
                ) from None
            ctx = smaller[0]
    if not row.ok:
        raise QualityError(row.error)
    record = results.record_for(row, text, ctx, reference.path)
    if record is not None:
        results.save(data_dir, [record])
    return ConversationScore(row, reference, ctx, text.label)


def _score(
    model: Path,
    reference: Reference,
    text: ScoreText,
    ctx: int,
    data_dir: Path,
    progress: Callable[[Progress], None],
    n_threads: int | None,
) -> ModelScore:
    config = RunConfig(ctx=ctx, chunks=MAX_CHUNKS, n_batch=min(512, ctx), n_threads=n_threads)
    (row,) = score([model], reference.path, text.text, config, data_dir / "tmp", progress)
    return row


def kept_score(data_dir: Path, model: Path, conversation_id: int) -> results.QualityRecord | None:
    """The newest score of this very file on this conversation, if it was scored."""
    label = f"conversation {conversation_id}"
    mine = [r for r in results.load(data_dir) if r.text == label]
    return results.lookup(data_dir, model, mine)


def describe(record: results.QualityRecord) -> str:
    """The conversation header's line: what was measured, in the switcher's words."""
    delta = record.ppl - record.ppl_reference
    return (
        f"Quality on this conversation: {record.quant} {results.label(record)} · "
        f"perplexity {record.ppl:.2f} ({delta:+.2f}) · {record.tokens:,} tokens scored"
    )
