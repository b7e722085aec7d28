"""The text a quality run scores: the shipped sample, a file, or a saved conversation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

MAX_TEXT_BYTES = 16 << 20  # a text file, read whole; more would take hours to score anyway
SAMPLE = "sample.txt"


class TextError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ScoreText:
    text: str
    label: str  # "the sample text", a file name, "conversation 12"

    @property
    def digest(self) -> str:
        """What results are keyed by: the text itself, not where it came from."""
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def sample_text() -> ScoreText:
    """A few thousand tokens of plain prose and some code, written for gguf-tui (MIT)."""
    text = resources.files("gguf_tui.quality").joinpath(SAMPLE).read_text(encoding="utf-8")
    return ScoreText(text, "the sample text")


def file_text(path: Path) -> ScoreText:
    from gguf_tui.store.files import FileError, read_bytes

    try:
        data = read_bytes(path, MAX_TEXT_BYTES)
    except FileError as exc:
        raise TextError(str(exc)) from None
    except OSError as exc:
        raise TextError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TextError(f"{path} is not UTF-8 text") from None
    if not text.strip():
        raise TextError(f"{path} is empty")
    return ScoreText(text, path.name)


def conversation_text(messages: list, conversation_id: int) -> ScoreText:
    """A conversation's own words, message after message (its roles as plain labels)."""
    parts = [f"{m.role}: {m.content}" for m in messages if m.content.strip()]
    if not parts:
        raise TextError(f"conversation {conversation_id} has no text to score")
    return ScoreText("\n\n".join(parts), f"conversation {conversation_id}")
