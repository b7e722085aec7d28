"""Split `<think>…</think>` reasoning out of a token stream.

Tags arrive cut anywhere (`<thi` + `nk>`), so the splitter holds back the
shortest tail that could still become a tag and releases it once it cannot.
"""

from __future__ import annotations

OPEN = "<think>"
CLOSE = "</think>"

REASONING = "reasoning"
TEXT = "text"


def _partial_tag_len(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ThinkSplitter:
    """Feed text deltas, get back `(kind, text)` pieces with the tags removed.

    `in_reasoning=True` is for templates whose generation prompt already opens
    `<think>` (DeepSeek-R1, Qwen3): the output then starts inside the reasoning.
    Only a `<think>` at the very start of the answer opens reasoning; the same
    text later in an answer (say, in a code sample) is kept as text.
    """

    def __init__(self, in_reasoning: bool = False, at_start: bool = True) -> None:
        self._in_reasoning = in_reasoning
        self._pending = ""
        # Nothing but blanks seen in the current section. False for an answer that is
        # continued: its first token may well be the line break it was cut before.
        self._at_start = at_start

    def feed(self, delta: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        buf = self._pending + delta
        self._pending = ""
        while buf:
            if self._at_start:
                # Blank lines right after a tag (or at the start) carry nothing.
                buf = buf.lstrip()
                if not buf:
                    break
            if self._in_reasoning:
                idx = buf.find(CLOSE)
                if idx >= 0:
                    self._emit(out, REASONING, buf[:idx])
                    buf = buf[idx + len(CLOSE) :]
                    self._in_reasoning = False
                    self._at_start = True
                    continue
                keep = _partial_tag_len(buf, CLOSE)
                self._emit(out, REASONING, buf[: len(buf) - keep])
                self._pending = buf[len(buf) - keep :]
                break
            if self._at_start and not out:
                if buf.startswith(OPEN):
                    buf = buf[len(OPEN) :]
                    self._in_reasoning = True
                    continue
                if OPEN.startswith(buf):
                    self._pending = buf  # could still become <think>
                    break
            self._emit(out, TEXT, buf)
            break
        return out

    def flush(self) -> list[tuple[str, str]]:
        """Release whatever was held back when the stream ends."""
        out: list[tuple[str, str]] = []
        self._emit(out, REASONING if self._in_reasoning else TEXT, self._pending)
        self._pending = ""
        return out

    def _emit(self, out: list[tuple[str, str]], kind: str, text: str) -> None:
        if not text:
            return
        self._at_start = False
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + text)
        else:
            out.append((kind, text))
