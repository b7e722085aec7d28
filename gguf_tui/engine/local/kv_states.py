"""Keep each conversation's KV cache when the user switches to another one.

A `Llama` has one KV cache. Answering conversation B overwrites what was cached
for A, so going back to A re-reads its whole prompt (seconds for a long chat on a
CPU). Before another conversation takes the cache, the owner's sequence is copied
out (`llama_state_seq_get_data`: only the used KV cells, ~23 KB a token for a
135M model); when its conversation comes back it is copied in again and the
usual prefix match takes over, so only the new turn is processed.

Why not `Llama.save_state()` / `LlamaRAMCache`: they also copy `Llama.scores`
(n_batch × n_vocab floats, 100 MB for a 49k vocabulary) and took 15× longer in
benchmarks/prefix_reuse.py; and `set_cache` is only consulted by
`create_completion`, which our decode loop does not use.

Runs on the engine thread only. States belong to one loaded model: `clear()`
them whenever the model changes.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_STATES = 8  # conversations kept besides the one in the cache
MAX_BYTES = 1 << 30  # all kept states together
MIN_TOKENS = 32  # shorter prompts are cheaper to re-read than to keep


@dataclass(frozen=True, slots=True)
class SavedState:
    tokens: Any  # numpy array: what the cached sequence holds, in order
    data: bytes  # llama_state_seq_get_data of sequence 0

    @property
    def nbytes(self) -> int:
        return len(self.data) + self.tokens.nbytes


class ConversationStates:
    """A small LRU of KV-cache snapshots keyed by conversation, bounded in bytes."""

    def __init__(self, max_states: int = MAX_STATES, max_bytes: int = MAX_BYTES) -> None:
        self.max_states = max_states
        self.max_bytes = max_bytes
        self._states: OrderedDict[Hashable, SavedState] = OrderedDict()
        self._owner: Hashable | None = None  # whose conversation the KV cache holds now
        self.saves = self.restores = 0

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._states.values())

    def __contains__(self, key: Hashable) -> bool:
        return key in self._states

    def __len__(self) -> int:
        return len(self._states)

    def clear(self) -> None:
        """The model changed (or went away): every snapshot is meaningless now."""
        self._states.clear()
        self._owner = None

    def forget(self, key: Hashable) -> None:
        self._states.pop(key, None)
        if self._owner == key:
            self._owner = None

    def switch(self, llm: Any, key: Hashable | None) -> None:
        """Make the KV cache `key`'s before it is used; None: a request of no conversation.

        The current owner's sequence is kept first (unless it is `key` already).
        """
        if key is not None and key == self._owner:
            return
        if self._owner is not None:
            self._save(llm, self._owner)
        self._owner = key
        saved = self._states.pop(key, None) if key is not None else None
        if saved is not None and not self._restore(llm, saved):
            log.warning("could not restore the KV cache of conversation %s", key)

    # -- llama.cpp ---------------------------------------------------------------------
    def _save(self, llm: Any, key: Hashable) -> None:
        import llama_cpp

        n = int(llm.n_tokens)
        if n < MIN_TOKENS:
            return
        size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm.ctx, buf, size, 0)
        if not written:
            return
        state = SavedState(llm.input_ids[:n].copy(), bytes(buf)[:written])
        if state.nbytes > self.max_bytes:
            return
        self._states[key] = state
        self._states.move_to_end(key)
        self.saves += 1
        while len(self._states) > self.max_states or self.nbytes > self.max_bytes:
            self._states.popitem(last=False)

    def _restore(self, llm: Any, saved: SavedState) -> bool:
        import llama_cpp

        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
        llm.n_tokens = 0
        src = (ctypes.c_uint8 * len(saved.data)).from_buffer_copy(saved.data)
        if not llama_cpp.llama_state_seq_set_data(llm.ctx, src, len(saved.data), 0):
            return False
        n = len(saved.tokens)
        llm.input_ids[:n] = saved.tokens
        llm.n_tokens = n
        # The logits are not restored: generate() must decode at least one token
        # before it samples (llama-cpp-python checks this flag).
        llm._requires_eval = True
        self.restores += 1
        return True
