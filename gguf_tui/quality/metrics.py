"""The arithmetic of a quality run: log-softmax, KL divergence, top-1 agreement, perplexity.

As llama-perplexity does it: every scored position's full-vocabulary distribution, the
log-sum-exp accumulated in float64 (float32 loses the small probabilities that KL
divergence is made of). Rows are worked through in blocks of BLOCK_BYTES per float64
array, so the working memory is bounded whatever the vocabulary and the text length.

The reference's distributions go to disk (ReferenceFile): its float32 logits as llama.cpp
returned them, with each row's float64 log-sum-exp beside them in memory. Re-deriving the
log-probabilities from exactly those numbers is what makes a model scored against itself
come out at KLD 0 and 100 % agreement, not at rounding noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BLOCK_BYTES = 8 << 20  # one float64 block of rows; a block step holds about six of them


def block_rows(n_vocab: int) -> int:
    """How many rows of `n_vocab` float64 values fit in BLOCK_BYTES (at least one)."""
    return max(1, BLOCK_BYTES // (8 * max(1, n_vocab)))


def working_bytes(n_vocab: int) -> int:
    """The most memory the block arithmetic holds at once (the stated bound)."""
    return 8 * block_rows(n_vocab) * n_vocab * 8


def log_sum_exp(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of float32 logits -> (the rows in float64, each row's log-sum-exp in float64)."""
    x = logits.astype(np.float64)
    top = x.max(axis=1)
    lse = top + np.log(np.exp(x - top[:, None]).sum(axis=1))
    return x, lse


class ReferenceFile:
    """The reference's logits of every scored position, written once, read back in order.

    On disk: float32 rows of n_vocab (4 bytes x vocabulary x scored tokens). In memory:
    per scored token its log-sum-exp, negative log-likelihood and top token (20 bytes)."""

    def __init__(self, path: Path, n_vocab: int) -> None:
        self.path, self.n_vocab = path, n_vocab
        self._fh = path.open("w+b")
        self.lse: list[np.ndarray] = []
        self.nll: list[np.ndarray] = []
        self.top: list[np.ndarray] = []
        self.rows = 0
        self._read_at = 0
        self._lse_all: np.ndarray | None = None

    def add(self, logits: np.ndarray, targets: np.ndarray) -> None:
        """Rows of float32 logits (a view of llama.cpp's buffer) and the tokens they predict."""
        step = block_rows(self.n_vocab)
        for at in range(0, len(logits), step):
            rows = logits[at : at + step]
            x, lse = log_sum_exp(rows)
            self._fh.write(np.ascontiguousarray(rows, dtype=np.float32).tobytes())
            self.lse.append(lse)
            self.nll.append(lse - x[np.arange(len(rows)), targets[at : at + step]])
            self.top.append(rows.argmax(axis=1).astype(np.int32))
            self.rows += len(rows)

    def finish(self) -> None:
        self._fh.flush()
        self._lse_all = np.concatenate(self.lse) if self.lse else np.zeros(0)
        self._top_all = np.concatenate(self.top) if self.top else np.zeros(0, np.int32)
        self.lse, self.top = [], []
        self.rewind()

    def rewind(self) -> None:
        self._fh.seek(0)
        self._read_at = 0

    def read(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next `n` rows: (float32 logits, float64 log-sum-exp, top token)."""
        data = np.fromfile(self._fh, dtype=np.float32, count=n * self.n_vocab)
        if data.size != n * self.n_vocab:
            raise OSError(f"the reference's logits file {self.path} is shorter than written")
        at = self._read_at
        self._read_at += n
        assert self._lse_all is not None
        return data.reshape(n, self.n_vocab), self._lse_all[at : at + n], self._top_all[at : at + n]

    def nll_all(self) -> np.ndarray:
        return np.concatenate(self.nll) if self.nll else np.zeros(0)

    def close(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


@dataclass
class Comparison:
    """Running sums of one model against the reference (llama-perplexity's figures)."""

    kld: list[np.ndarray] = field(default_factory=list)
    nll: list[np.ndarray] = field(default_factory=list)
    same_top: int = 0
    count: int = 0

    def add(self, logits: np.ndarray, targets: np.ndarray, reference: ReferenceFile) -> None:
        step = block_rows(reference.n_vocab)
        for at in range(0, len(logits), step):
            rows = logits[at : at + step]
            n = len(rows)
            ref_rows, ref_lse, ref_top = reference.read(n)
            x, lse = log_sum_exp(rows)
            lp_ref = ref_rows.astype(np.float64)
            lp_ref -= ref_lse[:, None]
            x -= lse[:, None]  # now the model's log-probabilities
            p_ref = np.exp(lp_ref)
            lp_ref -= x
            kld = (p_ref * lp_ref).sum(axis=1)
            self.kld.append(np.maximum(kld, 0.0))  # rounding can dip a hair below 0
            self.nll.append(-x[np.arange(n), targets[at : at + step]])
            self.same_top += int((rows.argmax(axis=1) == ref_top).sum())
            self.count += n

    def figures(self, reference_nll: np.ndarray) -> dict[str, float]:
        kld = np.concatenate(self.kld) if self.kld else np.zeros(0)
        nll = np.concatenate(self.nll) if self.nll else np.zeros(0)
        n = len(kld)
        return {
            "kld_mean": float(kld.mean()) if n else math.nan,
            "kld_p99": percentile(kld, 0.99),
            "kld_max": float(kld.max()) if n else math.nan,
            "top1_agreement": 100.0 * self.same_top / n if n else math.nan,
            "ppl": perplexity(nll),
            "ppl_reference": perplexity(reference_nll),
        }


def perplexity(nll: np.ndarray) -> float:
    return float(math.exp(nll.mean())) if len(nll) else math.nan


def percentile(values: np.ndarray, fraction: float) -> float:
    """llama-perplexity's percentile: linear between the two nearest sorted values."""
    if not len(values):
        return math.nan
    ordered = np.sort(values)
    p = fraction * (len(ordered) - 1)
    low = int(p)
    high = min(low + 1, len(ordered) - 1)
    return float((1 - (p - low)) * ordered[low] + (p - low) * ordered[high])
