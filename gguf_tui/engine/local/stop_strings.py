"""Where a reply's text ends, and where its prompt starts being new.

Stop strings are held back while they could still match, so a reply never shows
the first half of `<|im_end|>`; `tokens_to_read` mirrors llama-cpp-python's prefix
reuse to report how much of a prompt was really processed.
"""

from __future__ import annotations


def tokens_to_read(cached: list[int], prompt: list[int]) -> int:
    """How many prompt tokens `Llama.generate` will process, given what the KV cache holds.

    Mirrors its prefix reuse: a fully cached prompt still replays its last token to
    get fresh logits. (llama.cpp's perf counters are not reliable here: they are not
    reset between calls in every build.)
    """
    common = 0
    for a, b in zip(cached, prompt, strict=False):
        if a != b:
            break
        common += 1
    if common >= len(prompt):
        common = len(prompt) - 1
    return len(prompt) - common


class StopMatcher:
    """Hold back text that might be the start of a stop string."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = [s for s in stops if s]
        self._held = ""
        self.hit = False

    def feed(self, text: str) -> tuple[str, bool]:
        if not self._stops:
            return text, False
        buf = self._held + text
        cut = min((i for s in self._stops if (i := buf.find(s)) >= 0), default=-1)
        if cut >= 0:
            self._held = ""
            self.hit = True
            return buf[:cut], True
        keep = 0
        for s in self._stops:
            for n in range(min(len(s) - 1, len(buf)), keep, -1):
                if buf.endswith(s[:n]):
                    keep = n
                    break
        self._held = buf[len(buf) - keep :]
        return buf[: len(buf) - keep], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
