"""Where two answers to the same prompt part: compare's "first difference" marker.

Two quantizations given the same prompt, sampling and seed write the same tokens
until the first token on which their distributions disagree enough to pick another;
from then on the texts are unrelated. The point where they part says more about
the lower quant than reading both answers whole: "identical for 180 words, then
it chose another word" is a small difference; "different from the first word" is
not. Text is compared, not token ids: both answers are already saved as text, and
the two quants share their vocabulary, so the first differing character lies in
the first differing token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SNIPPET = 40  # characters shown on each side of the point where the answers part
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Divergence:
    """`common` characters (`words` words) are the same; `before` ends the shared text
    and `left`/`right` begin each answer's own; `identical` when nothing differs."""

    common: int
    words: int
    before: str
    left: str
    right: str
    identical: bool

    def summary(self) -> str:
        """One line for the compare screen."""
        if self.identical:
            return "The two answers are identical."
        if self.common == 0:
            return "The answers differ from the first word."
        return f"Identical for the first {self.words:,} words ({self.common:,} characters)."


def _ends_word(text: str, at: int) -> bool:
    return at == len(text) or text[at].isspace()


def _start_of_word(left: str, right: str, at: int) -> int:
    """Back to where the differing word starts ("Paris" vs "Parma" part at "Pa…" as
    text, at the word as tokens), unless both texts end a word right there."""
    if _ends_word(left, at) and _ends_word(right, at):
        return at
    while at > 0 and not left[at - 1].isspace():
        at -= 1
    return at


def first_difference(left: str, right: str, snippet: int = SNIPPET) -> Divergence:
    """Where `left` and `right` stop being the same text."""
    common = next((i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b), None)
    if common is None:
        common = min(len(left), len(right))
    if common == len(left) == len(right):
        return Divergence(common, len(_WORD.findall(left)), "", "", "", True)
    at = _start_of_word(left, right, common)
    before = left[max(0, at - snippet) : at]
    return Divergence(
        common=at,
        words=len(_WORD.findall(left[:at])),
        before=_one_line(before),
        left=_one_line(left[at : at + snippet]),
        right=_one_line(right[at : at + snippet]),
        identical=False,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
