"""UI cost per streamed token early and late in a long answer, and key-press latency.

    python -m benchmarks.render_scaling [--tokens 4100] [--per-pump 4] [--presses 40]

The real app (ChatScreen, ReplyStream, AssistantMessage, StreamingMarkdown) runs
headless with a scripted engine whose Generation hands the UI `--per-pump` new
tokens every time the UI drains it: tokens arrive exactly as fast as the UI
reads them (20 pumps a second), so no engine thread competes for the CPU.

- CPU per token (target: at 4,000 tokens <= 1.5x at 200 tokens): process CPU
  time (time.process_time) between the drains that enclose tokens 150-250 and
  3,950-4,050. The reference is the 200-token window of the same answer. Three
  answers: prose in paragraphs (the usual case), one paragraph without a blank
  line, and one long unclosed code block (the last Markdown block keeps growing).
- Key-press latency (target: p95 < 50 ms): keys sent through the driver as a
  terminal would, while an answer streams; from sending to the first frame that
  shows the character. Reference: the same presses with nothing streaming.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, machine_line, median, percentile, save, verdict
from gguf_tui.engine import STOP, Finished, Generation, GenerationStats, TextDelta
from tests.support.fake_engine import FakeEngine

_TEXT = "the model answers with plain words and some longer explanations of ideas"
WORDS = _TEXT.split()


def prose(n: int, rng: random.Random) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        for _ in range(rng.randint(30, 70)):
            out.append(rng.choice(WORDS) + " ")
        out[-1] = out[-1].rstrip() + ".\n\n"
        if rng.random() < 0.2:
            out += ["- item ", "one\n", "- item ", "two\n\n"]
    return out[:n]


def one_paragraph(n: int, rng: random.Random) -> list[str]:
    return [rng.choice(WORDS) + (". " if rng.random() < 0.08 else " ") for _ in range(n)]


def code_block(n: int, rng: random.Random) -> list[str]:
    out = ["```python\n"]
    while len(out) < n:
        out += ["    value", " = ", f"compute({rng.randint(0, 99)})", "\n"]
    return out[:n]


SCRIPTS = {"prose": prose, "one paragraph": one_paragraph, "code block": code_block}


class PacedGeneration(Generation):
    """Gives the reader `per_pump` new tokens on every drain; records CPU and time."""

    def __init__(self, tokens: list[str], per_pump: int) -> None:
        super().__init__()
        self.tokens = tokens
        self.per_pump = per_pump
        self.sent = 0
        self.samples: list[tuple[int, float, float]] = []  # (tokens sent, cpu, wall)

    def drain(self):
        self.samples.append((self.sent, time.process_time(), time.perf_counter()))
        if self.sent < len(self.tokens):
            for piece in self.tokens[self.sent : self.sent + self.per_pump]:
                self.emit(TextDelta(piece))
            self.sent = min(len(self.tokens), self.sent + self.per_pump)
        elif not self.done and not self.stop_requested:
            stats = GenerationStats(generated_tokens=self.sent)
            self.emit(Finished(STOP, "".join(self.tokens), "", stats))
        return super().drain()


class PacedEngine(FakeEngine):
    def __init__(self, tokens: list[str], per_pump: int) -> None:
        super().__init__()
        self.tokens, self.per_pump = tokens, per_pump
        self.last: PacedGeneration | None = None

    def chat(self, messages, sampling=None, cache_key=None):
        self.last = PacedGeneration(self.tokens, self.per_pump)
        self._current = self.last
        return self.last


def cpu_per_token(samples: list[tuple[int, float, float]], lo: int, hi: int) -> float:
    """CPU seconds per token between the last drain at or before `lo` tokens and the
    first at or after `hi`."""
    start = max((s for s in samples if s[0] <= lo), key=lambda s: s[0])
    end = min((s for s in samples if s[0] >= hi), key=lambda s: s[0])
    return (end[1] - start[1]) / (end[0] - start[0])


async def stream(kind: str, n: int, per_pump: int, data_dir: Path) -> dict:
    from tests.support.tui import make_app, type_and_send

    tokens = SCRIPTS[kind](n, random.Random(5))
    engine = PacedEngine(tokens, per_pump)
    app = make_app(data_dir, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, f"Write {kind}.")
        screen = app.chat_screen
        while screen.reply is not None:  # noqa: ASYNC110 (pilot.pause() would add UI work)
            await asyncio.sleep(0.05)
    samples = engine.last.samples
    early = cpu_per_token(samples, 150, 250)
    late = cpu_per_token(samples, n - 150, n - 50)
    wall = samples[-1][2] - samples[0][2]
    return {"early": early, "late": late, "ratio": late / early, "wall": wall, "tokens": n}


async def key_latency(presses: int, streaming: bool, per_pump: int, data_dir: Path) -> list[float]:
    from textual import events

    from tests.support.tui import make_app, type_and_send, wait_until

    tokens = prose(60_000 if streaming else 10, random.Random(7))
    engine = PacedEngine(tokens, per_pump)
    app = make_app(data_dir, engine=engine)
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.chat_screen
        if streaming:
            await type_and_send(pilot, "Write a lot.")
            await wait_until(pilot, lambda: engine.last and engine.last.sent > 1000, 300)
        prompt = screen.prompt
        prompt.focus()
        display = app._display
        pending: dict[str, float] = {}

        def displayed(s, renderable) -> None:
            display(s, renderable)
            if pending and renderable is not None and prompt.text.endswith(pending["char"]):
                latencies.append(time.perf_counter() - pending.pop("sent"))
                pending.clear()

        app._display = displayed
        for i in range(presses):
            char = "abcdefghijklmnopqrstuvwxyz"[i % 26]
            pending.update(char=char, sent=time.perf_counter())
            app._driver.send_message(events.Key(char, char))
            deadline = time.perf_counter() + 5
            while pending and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.05)  # a typist's pace, give or take
        app._display = display
        if streaming:
            assert screen.reply is not None, "the answer ended before the presses did"
            screen.reply.gen.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4100)
    parser.add_argument("--per-pump", type=int, default=4, help="tokens per 1/30 s (4: 120 tok/s)")
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--only", choices=[*SCRIPTS, "keys"], action="append")
    args = parser.parse_args()
    info = machine()
    print(machine_line(info))
    results: dict = {"machine": info, "per_pump": args.per_pump, "streams": {}}
    with tempfile.TemporaryDirectory(prefix="gguf-render-bench-") as tmp:
        for n, kind in enumerate(SCRIPTS):
            if args.only and kind not in args.only:
                continue
            r = asyncio.run(stream(kind, args.tokens, args.per_pump, Path(tmp) / str(n)))
            results["streams"][kind] = r
            print(
                f"{kind:>14}: CPU/token {r['early'] * 1000:6.2f} ms at 200, "
                f"{r['late'] * 1000:6.2f} ms at {args.tokens - 100:,}; ratio {r['ratio']:.2f} "
                f"({verdict(r['ratio'], 1.5)} <= 1.5); {r['tokens'] / r['wall']:.0f} tok/s shown"
            )
        if not args.only or "keys" in args.only:
            idle = asyncio.run(key_latency(args.presses, False, args.per_pump, Path(tmp) / "k0"))
            busy = asyncio.run(key_latency(args.presses, True, args.per_pump, Path(tmp) / "k1"))
            for name, values in (("idle", idle), ("streaming", busy)):
                p95 = percentile(values, 95)
                results[f"keys_{name}"] = {
                    "median": median(values),
                    "p95": p95,
                    "max": max(values),
                    "n": len(values),
                }
                print(
                    f"key press, {name:>9}: median {median(values) * 1000:5.1f} ms, "
                    f"p95 {p95 * 1000:5.1f} ms, max {max(values) * 1000:5.1f} ms "
                    f"({len(values)} presses; {verdict(p95, 0.05)} p95 < 50 ms)"
                )
    save("render_scaling", results)


if __name__ == "__main__":
    main()
