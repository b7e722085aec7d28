"""Score models against a reference on a text, as `llama-perplexity --kl-divergence` does.

The text is tokenized once (by the reference) and cut into chunks of `ctx` tokens; each
chunk is decoded from an empty KV cache (BOS first where the model adds one), and only
the second half is scored: the first half is context. The reference is run first and
its logits of the scored positions go to a file on disk; then each model in turn is
loaded (one model in memory at a time), run on the same tokens, compared row by row,
and closed.

Logits are read straight from llama.cpp's output buffer (a numpy view, not a copy),
one decode of up to `n_batch` tokens at a time. Ctrl+C is seen between graph nodes
(llama.cpp's abort callback), so even a long chunk stops within moments.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gguf_tui.quality.metrics import Comparison, ReferenceFile, working_bytes


class QualityError(Exception):
    """A run that cannot be done, as one line for the user."""


class Cancelled(QualityError):
    pass


@dataclass(frozen=True, slots=True)
class RunConfig:
    ctx: int = 512  # tokens per chunk (llama-perplexity's -c)
    chunks: int | None = None  # at most this many chunks (None: as many as the text has)
    n_batch: int = 512  # tokens per llama_decode
    n_threads: int | None = None
    n_gpu_layers: int = 0


@dataclass
class ModelScore:
    """One model's figures against the reference (the keys of `--json`)."""

    model: str
    quant: str
    reference: str
    tokens: int = 0
    kld_mean: float = math.nan
    kld_p99: float = math.nan
    kld_max: float = math.nan
    top1_agreement: float = math.nan
    ppl: float = math.nan
    ppl_reference: float = math.nan
    seconds: float = 0.0
    tokens_per_second: float = 0.0
    path: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def ppl_delta(self) -> float:
        return self.ppl - self.ppl_reference

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ppl_delta"] = self.ppl_delta
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}


@dataclass
class Progress:
    """What a pass is doing, for a progress bar."""

    path: Path
    stage: str  # "loading" | "scoring"
    done: int = 0  # chunks decoded
    total: int = 0
    tokens_per_second: float = 0.0
    reference: bool = False  # the reference's own pass (its logits are being kept)


ProgressFn = Callable[[Progress], None]


@dataclass
class _Stop:
    """Set by Ctrl+C; read by llama.cpp's abort callback and between chunks."""

    event: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.event.is_set():
            raise Cancelled("stopped (Ctrl+C): nothing was saved")


@contextlib.contextmanager
def _ctrl_c(stop: _Stop) -> Iterator[None]:
    """While scoring, Ctrl+C asks the decode to stop instead of raising mid-C-call."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(_sig, _frame):
        if stop.event.is_set():  # a second Ctrl+C: the user means it
            raise KeyboardInterrupt
        stop.event.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Loaded:
    """A model loaded through the engine (its checks, AMX workaround and messages) and
    decoded through llama.cpp's own batch API."""

    def __init__(self, path: Path, config: RunConfig, stop: _Stop) -> None:
        import llama_cpp

        self.stop = stop
        from gguf_tui.engine.local.llama_model import EngineError, LlamaModel
        from gguf_tui.engine.options import LoadOptions

        self.lib = llama_cpp
        n_ctx = max(256, -(-config.ctx // 256) * 256)
        options = LoadOptions(
            n_ctx=n_ctx,
            n_gpu_layers=config.n_gpu_layers,
            n_threads=config.n_threads,
            n_batch=min(config.n_batch, n_ctx),
        )
        try:
            self.model = LlamaModel.load(path, options, progress=lambda _v: not stop.event.is_set())
        except EngineError as exc:
            stop.check()
            raise QualityError(str(exc)) from None
        self.info = self.model.info
        llm = self.model.llm
        if llm.n_ctx() < config.ctx:
            self.close()
            raise QualityError(
                f"{path.name} was loaded with a context of {llm.n_ctx():,} tokens, less than "
                f"--ctx {config.ctx:,} (the model's training context, or the memory free)"
            )
        self.ctx = llm.ctx
        self.vocab = llm._model.vocab
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self.n_batch = int(llama_cpp.llama_n_batch(self.ctx))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))
        self.bos = int(llama_cpp.llama_vocab_bos(self.vocab))
        self._abort = llama_cpp.ggml_abort_callback(lambda _data: stop.event.is_set())
        llama_cpp.llama_set_abort_callback(self.ctx, self._abort, None)

    def tokenize(self, text: str) -> list[int]:
        # llama-perplexity: common_tokenize(ctx, text, add_special=true, parse_special=false)
        return self.model.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)

    def chunk_logits(self, tokens: list[int], first: int) -> Iterator[tuple[int, np.ndarray]]:
        """Decode one chunk from an empty cache; yield (position, rows) for the outputs of
        positions >= `first`: a view of llama.cpp's buffer, valid until the next decode."""
        lib = self.lib
        lib.llama_memory_clear(lib.llama_get_memory(self.ctx), True)
        n = len(tokens)
        batch = lib.llama_batch_init(min(self.n_batch, n), 0, 1)
        try:
            for start in range(0, n, self.n_batch):
                size = min(self.n_batch, n - start)
                outputs = 0
                for k in range(size):
                    pos = start + k
                    token = self.bos if (pos == 0 and self.add_bos) else tokens[pos]
                    batch.token[k] = token
                    batch.pos[k] = pos
                    batch.n_seq_id[k] = 1
                    batch.seq_id[k][0] = 0
                    want = pos >= first
                    batch.logits[k] = want
                    outputs += want
                batch.n_tokens = size
                rc = lib.llama_decode(self.ctx, batch)
                if rc != 0:
                    self.stop.check()  # 2: aborted, by Ctrl+C
                    raise QualityError(f"llama.cpp could not decode a chunk (llama_decode {rc})")
                if outputs:
                    ptr = lib.llama_get_logits(self.ctx)
                    rows = np.ctypeslib.as_array(
                        ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                        shape=(outputs, self.n_vocab),
                    )
                    yield max(first, start), rows
        finally:
            lib.llama_batch_free(batch)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.lib.llama_set_abort_callback(self.ctx, self.lib.ggml_abort_callback(), None)
        self.model.close()


def _scored(tokens: list[int], ctx: int, n_chunks: int) -> int:
    return n_chunks * (ctx - 1 - ctx // 2)


def _passes(
    loaded: _Loaded,
    tokens: list[int],
    config: RunConfig,
    n_chunks: int,
    on_rows: Callable[[np.ndarray, np.ndarray], None],
    stop: _Stop,
    progress: ProgressFn | None,
    path: Path,
    is_reference: bool = False,
) -> float:
    """Decode every chunk, hand the scored rows and their target tokens to `on_rows`;
    returns the seconds spent (decoding and scoring)."""
    ctx, first = config.ctx, config.ctx // 2
    last = ctx - 1  # position ctx-1 would predict the token after the chunk: not scored
    started = time.perf_counter()
    for i in range(n_chunks):
        stop.check()
        chunk = tokens[i * ctx : (i + 1) * ctx]
        targets = np.asarray(chunk, dtype=np.int64)
        for pos, rows in loaded.chunk_logits(chunk, first):
            end = min(pos + len(rows), last)
            if end > pos:
                on_rows(rows[: end - pos], targets[pos + 1 : end + 1])
        stop.check()
        if progress is not None:
            spent = time.perf_counter() - started
            rate = (i + 1) * ctx / spent
            progress(Progress(path, "scoring", i + 1, n_chunks, rate, reference=is_reference))
    return time.perf_counter() - started


def score(
    models: list[Path],
    reference: Path,
    text: str,
    config: RunConfig,
    work_dir: Path,
    progress: ProgressFn | None = None,
    on_result: Callable[[ModelScore], None] | None = None,
) -> list[ModelScore]:
    """Score each of `models` against `reference` on `text`. QualityError (Cancelled on
    Ctrl+C) for what stops the whole run; a model that fails alone gets an error row."""
    from gguf_tui.models.quant import quant_name

    stop = _Stop()
    results: list[ModelScore] = []
    with _ctrl_c(stop):
        if progress is not None:
            progress(Progress(reference, "loading", reference=True))
        ref = _Loaded(reference, config, stop)
        try:
            tokens = ref.tokenize(text)
            n_chunks = len(tokens) // config.ctx
            if config.chunks is not None:
                n_chunks = min(n_chunks, config.chunks)
            if n_chunks < 1:
                raise QualityError(
                    f"the text is {len(tokens):,} tokens, shorter than one chunk of --ctx "
                    f"{config.ctx:,}: give a longer text or a smaller --ctx"
                )
            tokens = tokens[: n_chunks * config.ctx]
            n_vocab = ref.n_vocab
            ref_name = ref.info.quant or reference.name
            need = _scored(tokens, config.ctx, n_chunks) * n_vocab * 4
            work_dir.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(work_dir).free
            if need + (64 << 20) > free:
                raise QualityError(
                    f"the reference's logits need {need / 2**20:,.0f} MiB in {work_dir}, "
                    f"which has {free / 2**20:,.0f} MiB free: use fewer --chunks"
                )
            handle, name = tempfile.mkstemp(prefix="quality-", suffix=".logits", dir=work_dir)
            os.close(handle)
            store = ReferenceFile(Path(name), n_vocab)
            try:
                _passes(ref, tokens, config, n_chunks, store.add, stop, progress, reference, True)
                store.finish()
            except BaseException:
                store.close()
                raise
        finally:
            ref.close()
        try:
            ref_nll = store.nll_all()
            for path in models:
                if progress is not None:
                    progress(Progress(path, "loading"))
                row = ModelScore(str(path.name), quant_name(None, path.name), ref_name)
                row.path = str(path)
                try:
                    row = _score_one(
                        path, row, text, tokens, config, n_chunks, store, stop, progress
                    )
                except Cancelled:
                    raise
                except QualityError as exc:
                    row.error = str(exc)
                row.ppl_reference = float(math.exp(ref_nll.mean()))
                results.append(row)
                if on_result is not None:
                    on_result(row)
        finally:
            store.close()
    return results


def _score_one(
    path: Path,
    row: ModelScore,
    text: str,
    tokens: list[int],
    config: RunConfig,
    n_chunks: int,
    store: ReferenceFile,
    stop: _Stop,
    progress: ProgressFn | None,
) -> ModelScore:
    loaded = _Loaded(path, config, stop)
    try:
        row.quant = loaded.info.quant or row.quant
        if loaded.n_vocab != store.n_vocab:
            raise QualityError(
                f"{path.name} has another vocabulary than the reference ({loaded.n_vocab:,} "
                f"tokens, the reference {store.n_vocab:,}): KL divergence compares the same "
                "tokens, so score it against a quantization of the same model (--reference)"
            )
        if loaded.tokenize(text)[: len(tokens)] != tokens:
            raise QualityError(
                f"{path.name} turns the text into other tokens than the reference does (another "
                "tokenizer): score it against a quantization of the same model (--reference)"
            )
        comparison = Comparison()
        store.rewind()
        seconds = _passes(
            loaded,
            tokens,
            config,
            n_chunks,
            lambda rows, targets: comparison.add(rows, targets, store),
            stop,
            progress,
            path,
        )
        figures = comparison.figures(store.nll_all())
        for key, value in figures.items():
            setattr(row, key, value)
        row.tokens = comparison.count
        row.seconds = seconds
        row.tokens_per_second = n_chunks * config.ctx / seconds if seconds else 0.0
    finally:
        loaded.close()
    return row


def memory_bound(n_vocab: int) -> int:
    """Bytes the scoring arithmetic holds beyond the model (see metrics.BLOCK_BYTES)."""
    return working_bytes(n_vocab)
