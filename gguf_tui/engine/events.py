"""What the engine thread reports while it answers.

Every front end (the TUI, the line chat, `run`) consumes these same events, so
they are plain frozen dataclasses with no behaviour beyond derived figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Why a reply ended.
STOP = "stop"  # the model finished on its own
LENGTH = "length"  # max_tokens reached
CONTEXT = "context"  # the context window is full
STOPPED = "stopped"  # the user stopped it


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """The figures of one reply: what the seed tutorial's CPU/GPU table shows."""

    prompt_tokens: int = 0  # tokens in the prompt the model saw
    prompt_tokens_evaluated: int = 0  # of those, not already in the KV cache
    generated_tokens: int = 0
    prompt_seconds: float = 0.0  # processing the new prompt tokens
    generation_seconds: float = 0.0  # from first token to last
    time_to_first_token: float = 0.0  # from the request to the first token
    total_seconds: float = 0.0
    dropped_messages: int = 0  # left out of the prompt to fit the window
    waited_seconds: float = 0.0  # of the time to first token, queued behind other work
    waited_for: str = ""  # what that was: "loading the model", …

    @property
    def prompt_tokens_per_second(self) -> float:
        if self.prompt_seconds <= 0:
            return 0.0
        return self.prompt_tokens_evaluated / self.prompt_seconds

    @property
    def generation_tokens_per_second(self) -> float:
        # The first token comes out of prompt processing, so n tokens are n-1 intervals.
        if self.generation_seconds <= 0 or self.generated_tokens < 2:
            return 0.0
        return (self.generated_tokens - 1) / self.generation_seconds

    @property
    def ms_per_token(self) -> float:
        tps = self.generation_tokens_per_second
        return 1000.0 / tps if tps else 0.0

    @property
    def seconds_per_100_tokens(self) -> float:
        tps = self.generation_tokens_per_second
        return 100.0 / tps if tps else 0.0

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "prompt_tokens_evaluated": self.prompt_tokens_evaluated,
            "generated_tokens": self.generated_tokens,
            "prompt_seconds": round(self.prompt_seconds, 4),
            "generation_seconds": round(self.generation_seconds, 4),
            "time_to_first_token": round(self.time_to_first_token, 4),
            "total_seconds": round(self.total_seconds, 4),
            "prompt_tokens_per_second": round(self.prompt_tokens_per_second, 2),
            "generation_tokens_per_second": round(self.generation_tokens_per_second, 2),
            "ms_per_token": round(self.ms_per_token, 2),
            "dropped_messages": self.dropped_messages,
            "waited_seconds": round(self.waited_seconds, 4),
            "waited_for": self.waited_for,
        }

    @classmethod
    def from_dict(cls, data: dict) -> GenerationStats:
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})

    def summary(self) -> str:
        """One line for a status bar or stderr."""
        # A server that sends no usage or timings leaves the prompt figures unknown.
        parts = [f"{self.prompt_tokens} prompt tok"] if self.prompt_tokens else []
        parts += [f"{self.generated_tokens} tok", f"{self.generation_tokens_per_second:.1f} tok/s"]
        if self.prompt_seconds:
            parts.append(f"prompt {self.prompt_tokens_per_second:.0f} tok/s")
        parts.append(self.first_token_text())
        return " · ".join(parts)

    def first_token_text(self) -> str:
        """`first token 5.2 s (4.9 s loading the model)`: from the request, and what part
        of it was spent waiting for other work; or that there was no token at all."""
        ttft = self.time_to_first_token
        if not self.generated_tokens:
            return "no token written"
        text = f"first token {ttft:.1f} s" if ttft >= 1 else f"first token {ttft * 1000:.0f} ms"
        if self.waited_for and self.waited_seconds >= 0.1 and self.waited_seconds >= ttft / 4:
            text += f" ({self.waited_seconds:.1f} s {self.waited_for})"
        return text


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ContextTrimmed:
    """The oldest turns were left out of the prompt so the conversation fits."""

    dropped_messages: int
    prompt_tokens: int
    n_ctx: int


@dataclass(frozen=True, slots=True)
class Finished:
    reason: str
    text: str
    reasoning: str = ""
    stats: GenerationStats = field(default_factory=GenerationStats)

    @property
    def stopped(self) -> bool:
        return self.reason == STOPPED


@dataclass(frozen=True, slots=True)
class Failed:
    """The request could not be answered; `message` is meant for the user."""

    message: str
    text: str = ""  # whatever had streamed before the failure


Event = TextDelta | ReasoningDelta | ContextTrimmed | Finished | Failed
