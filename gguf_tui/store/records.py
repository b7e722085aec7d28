"""What the conversation database hands out: plain frozen records, no behaviour.

The screen keeps these around while the database changes under it (another
instance, a regenerate), so they are snapshots, never live rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("system", "user", "assistant")
TITLE_LENGTH = 60


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    role: str  # "system" | "user" | "assistant"
    content: str
    reasoning: str = ""
    created_at: float = 0.0  # unix seconds
    model_file: str | None = None  # file name (or path) of the GGUF that wrote it
    quant: str | None = None  # e.g. "Q4_K_M"
    stats: dict | None = None  # GenerationStats.to_dict()
    finish_reason: str | None = None  # "stop" | "length" | "context" | "stopped"; None: streaming
    parent_id: int | None = None  # the message this one follows; None: the first

    @property
    def unfinished(self) -> bool:
        """An answer whose writer never said it was done: still streaming, or it was killed."""
        return self.role == "assistant" and self.finish_reason is None

    def as_chat(self) -> dict[str, str]:
        """The `{"role", "content"}` shape the engine and history files take."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    title: str
    created_at: float
    updated_at: float
    model_file: str | None  # last model used
    quant: str | None
    message_count: int
    settings: dict = field(default_factory=dict)  # per-conversation overrides


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to write in bulk (an import): times and figures kept as they were."""

    role: str
    content: str
    reasoning: str = ""
    created_at: float | None = None  # None: now
    model_file: str | None = None
    quant: str | None = None
    stats: dict | None = None
    finish_reason: str | None = None
    # Which message of the same import this one follows: its index in the list, None for
    # a first message, PREVIOUS for the one before it (a plain history: one branch).
    parent: int | None = -1


PREVIOUS = -1  # NewMessage.parent: the message before it in the list


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def title_from_text(text: str, limit: int = TITLE_LENGTH) -> str:
    """A sidebar title from a message: its first non-blank line, cut at a word near `limit`."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"
