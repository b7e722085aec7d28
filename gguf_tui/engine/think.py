"""Split reasoning out of a token stream: `<think>…</think>` (DeepSeek-R1, Qwen3 …) and
the channels of OpenAI's harmony format (gpt-oss).

Tags arrive cut anywhere (`<thi` + `nk>`), so the splitters hold back the
shortest tail that could still become a tag and release it once it cannot.
"""

from __future__ import annotations

import re

OPEN = "<think>"
CLOSE = "</think>"

# Harmony (gpt-oss): `<|channel|>analysis<|message|>…<|end|><|start|>assistant<|channel|>
# final<|message|>…<|return|>`. llama.cpp renders <|channel|>, <|message|>, <|start|> and
# <|constrain|> as text and drops <|end|> (a control token), so the markers that reach us
# are those three; a server may pass any of them through.
CHANNEL = "<|channel|>"
MESSAGE = "<|message|>"
_BODY_ENDS = ("<|end|>", "<|start|>", CHANNEL, "<|return|>", "<|call|>")
_CHANNEL_NAME = re.compile(r"<\|channel\|>\s*([A-Za-z_]+)")
_HEADER_MAX = 256  # a header longer than this is not one: show it as text

REASONING = "reasoning"
TEXT = "text"


def _partial_tag_len(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


def _partial_any_len(text: str, tags: tuple[str, ...]) -> int:
    return max(_partial_tag_len(text, tag) for tag in tags)


class HarmonySplitter:
    """The harmony format's messages as `(kind, text)` pieces: the `analysis` channel is
    reasoning, every other channel (`final`, `commentary`) the answer; headers
    (`<|start|>assistant<|channel|>final<|message|>`) are dropped."""

    def __init__(self) -> None:
        self._header: str | None = ""  # collecting a header; None inside a message
        self._kind = TEXT
        self._pending = ""
        self._opened = False  # a message marker seen: the stream really is harmony

    def feed(self, delta: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        buf = self._pending + delta
        self._pending = ""
        while buf:
            if self._header is not None:
                buf, self._header = self._header + buf, ""  # a marker may span the two
                idx = buf.find(MESSAGE)
                if idx < 0:
                    self._header = buf
                    if len(buf) > _HEADER_MAX:  # not harmony after all: as text
                        _emit(out, TEXT, buf)
                        self._header, self._kind = None, TEXT
                    break
                header = buf[:idx]
                buf = buf[idx + len(MESSAGE) :]
                name = _CHANNEL_NAME.search(header)
                self._kind = REASONING if name and name[1] == "analysis" else TEXT
                self._header, self._opened = None, True
                continue
            ends = [i for i in (buf.find(tag) for tag in _BODY_ENDS) if i >= 0]
            if ends:
                idx = min(ends)
                _emit(out, self._kind, buf[:idx])
                self._header, buf = "", buf[idx:]
                continue
            keep = _partial_any_len(buf, _BODY_ENDS)
            _emit(out, self._kind, buf[: len(buf) - keep])
            self._pending = buf[len(buf) - keep :]
            break
        return out

    def flush(self) -> list[tuple[str, str]]:
        """The message being written when the stream ended. An unfinished header after a
        message carries nothing; one that no message followed was never harmony: text."""
        out: list[tuple[str, str]] = []
        if self._header is None:
            _emit(out, self._kind, self._pending)
        elif not self._opened:
            _emit(out, TEXT, self._header)
        self._pending = ""
        return out


def _emit(out: list[tuple[str, str]], kind: str, text: str) -> None:
    if not text:
        return
    if out and out[-1][0] == kind:
        out[-1] = (kind, out[-1][1] + text)
    else:
        out.append((kind, text))


class ThinkSplitter:
    """Feed text deltas, get back `(kind, text)` pieces with the tags removed.

    `in_reasoning=True` is for templates whose generation prompt already opens
    `<think>` (DeepSeek-R1, Qwen3): the output then starts inside the reasoning.
    Only a `<think>` at the very start of the answer opens reasoning; the same
    text later in an answer (say, in a code sample) is kept as text. An answer that
    opens with `<|channel|>` is in the harmony format (gpt-oss): HarmonySplitter's.
    """

    def __init__(self, in_reasoning: bool = False, at_start: bool = True) -> None:
        self._in_reasoning = in_reasoning
        self._pending = ""
        # Nothing but blanks seen in the current section. False for an answer that is
        # continued: its first token may well be the line break it was cut before.
        self._at_start = at_start
        self._harmony: HarmonySplitter | None = None

    def feed(self, delta: str) -> list[tuple[str, str]]:
        if self._harmony is not None:
            return self._harmony.feed(delta)
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
                if buf.startswith(CHANNEL):
                    self._harmony = HarmonySplitter()
                    return self._harmony.feed(buf)
                if OPEN.startswith(buf) or CHANNEL.startswith(buf):
                    self._pending = buf  # could still become <think> or <|channel|>
                    break
            self._emit(out, TEXT, buf)
            break
        return out

    def flush(self) -> list[tuple[str, str]]:
        """Release whatever was held back when the stream ends."""
        if self._harmony is not None:
            return self._harmony.flush()
        out: list[tuple[str, str]] = []
        self._emit(out, REASONING if self._in_reasoning else TEXT, self._pending)
        self._pending = ""
        return out

    def _emit(self, out: list[tuple[str, str]], kind: str, text: str) -> None:
        if text:
            self._at_start = False
            _emit(out, kind, text)
