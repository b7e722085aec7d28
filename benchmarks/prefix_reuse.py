"""Time to first token late in a conversation, and after visiting another one.

    python -m benchmarks.prefix_reuse [--model PATH] [--turns 10] [--repeat 3]

A conversation grows to about 1,500 tokens over `--turns` turns (real answers,
greedy, 90 tokens at most each). Figures, each relative to turn 1 of the same
scenario (the reference):
- turn 10 vs turn 1 (target <= 1.5x): the engine reuses the cached prefix;
- turn 11 after a ~1,500-token turn of another conversation in between
  (target <= 2x): that conversation's prompt evicts the first one's KV cache.
Scenarios alternate between `Engine.chat` without `cache_key` (the old way:
conversation A is read again) and with `cache_key` (A's KV cache is kept aside
and restored). TTFT is wall-clock from `chat()` to the first text, as the user
sees it. Then a micro-comparison of the two ways to keep a KV cache: the
engine's per-sequence copy vs llama-cpp-python's `Llama.save_state()`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import machine, machine_line, median, save, spread, verdict
from gguf_tui.engine import Engine, Failed, LoadOptions, Sampling, TextDelta

ANSWER = Sampling(temperature=0.0, seed=1, max_tokens=90)
TOPICS = ["lighthouses", "bees", "volcanoes", "trains", "tea", "rivers", "glass", "owls"]


def ttft(engine: Engine, messages: list[dict], key) -> tuple[float, str, dict]:
    """Seconds from the request to the first text; the answer; its stats."""
    started = time.perf_counter()
    gen = engine.chat(messages, ANSWER, cache_key=key)
    first = 0.0
    for event in gen:
        if isinstance(event, TextDelta) and not first:
            first = time.perf_counter() - started
        if isinstance(event, Failed):
            raise RuntimeError(event.message)
    outcome = gen.outcome
    return first, outcome.text, outcome.stats.to_dict()


def question(topic: str, turn: int) -> str:
    return (
        f"Question {turn} about {topic}: tell me one more surprising fact about {topic}, "
        f"different from the ones before, and explain in two or three sentences why it "
        f"matters to people who care about {topic}."
    )


def other_conversation(run: int) -> list[dict]:
    notes = " ".join(f"Note {i}: shelf {i} holds {TOPICS[i % 8]}." for i in range(190))
    return [
        {"role": "system", "content": f"Run {run}. You summarise inventories."},
        {"role": "user", "content": f"Here is the inventory. {notes} Which shelf has owls?"},
    ]


def scenario(engine: Engine, run: int, keyed: bool, turns: int) -> dict:
    # A keyless request first: the KV cache then belongs to no conversation, so
    # turn 1 (the reference) pays for no save of an earlier scenario's state.
    hello = [{"role": "user", "content": f"Say hello {run}."}]
    engine.chat(hello, Sampling(temperature=0.0, seed=1, max_tokens=2)).result()
    topic = TOPICS[run % len(TOPICS)]
    a = [{"role": "system", "content": f"Run {run}. You are a concise expert on {topic}."}]
    key_a, key_b = (f"a{run}", f"b{run}") if keyed else (None, None)
    times, prompts = [], []
    for turn in range(1, turns + 1):
        a.append({"role": "user", "content": question(topic, turn)})
        seconds, text, stats = ttft(engine, a, key_a)
        a.append({"role": "assistant", "content": text})
        times.append(seconds)
        prompts.append((stats["prompt_tokens"], stats["prompt_tokens_evaluated"]))
    b_seconds, _, b_stats = ttft(engine, other_conversation(run), key_b)
    a.append({"role": "user", "content": question(topic, turns + 1)})
    back, _, back_stats = ttft(engine, a, key_a)
    return {
        "turn_1": times[0],
        "turn_last": times[-1],
        "after_switch": back,
        "prompt_tokens_last": prompts[-1],
        "prompt_tokens_after_switch": (
            back_stats["prompt_tokens"],
            back_stats["prompt_tokens_evaluated"],
        ),
        "other_prompt_tokens": b_stats["prompt_tokens"],
        "other_ttft": b_seconds,
    }


def state_copy_costs(engine: Engine) -> dict:
    """Save and restore the current KV cache both ways, on the engine thread."""

    def job() -> dict:
        import ctypes

        import llama_cpp

        llm = engine._model.llm
        out = {"n_tokens": int(llm.n_tokens)}
        started = time.perf_counter()
        state = llm.save_state()
        out["save_state_seconds"] = time.perf_counter() - started
        out["save_state_bytes"] = state.llama_state_size + state.scores.nbytes
        started = time.perf_counter()
        llm.load_state(state)
        out["load_state_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        size = llama_cpp.llama_state_seq_get_size(llm.ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm.ctx, buf, size, 0)
        data = bytes(buf)[:written]
        out["seq_save_seconds"] = time.perf_counter() - started
        out["seq_bytes"] = len(data)
        started = time.perf_counter()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
        src = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        llama_cpp.llama_state_seq_set_data(llm.ctx, src, len(data), 0)
        out["seq_load_seconds"] = time.perf_counter() - started
        llm.n_tokens = 0  # the cache's content no longer matches input_ids exactly
        return out

    return engine._submit(job).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="default: SmolLM2-135M Q4_1 (tests)")
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.model is None:
        from tests.support.models import smollm

        args.model = smollm()
    info = machine()
    print(machine_line(info))
    results: dict[str, list[dict]] = {"plain": [], "keyed": []}
    with Engine() as engine:
        loaded = engine.load(args.model, LoadOptions(n_threads=args.threads)).result()
        print(f"{loaded.label}, n_ctx {loaded.n_ctx}, {loaded.n_threads} threads")
        for run in range(args.repeat):  # interleaved: plain, keyed, plain, keyed …
            for mode in ("plain", "keyed"):
                r = scenario(engine, 2 * run + (mode == "keyed"), mode == "keyed", args.turns)
                results[mode].append(r)
                print(
                    f"  {mode:>5} run {run + 1}: turn 1 {r['turn_1'] * 1000:5.0f} ms, "
                    f"turn {args.turns} {r['turn_last'] * 1000:5.0f} ms "
                    f"({r['prompt_tokens_last'][0]} prompt tokens, "
                    f"{r['prompt_tokens_last'][1]} read), after the other conversation "
                    f"{r['after_switch'] * 1000:5.0f} ms "
                    f"({r['prompt_tokens_after_switch'][1]} read)"
                )
        costs = state_copy_costs(engine)
    summary = {}
    for mode, runs in results.items():
        late = median(r["turn_last"] / r["turn_1"] for r in runs)
        back = median(r["after_switch"] / r["turn_1"] for r in runs)
        summary[mode] = {
            "turn_1_seconds": spread(r["turn_1"] for r in runs),
            "turn_last_seconds": spread(r["turn_last"] for r in runs),
            "after_switch_seconds": spread(r["after_switch"] for r in runs),
            "late_over_first": late,
            "switch_over_first": back,
        }
        print(
            f"{mode:>5}: turn {args.turns} / turn 1 = {late:.2f} ({verdict(late, 1.5)} <= 1.5); "
            f"back after another conversation / turn 1 = {back:.2f} ({verdict(back, 2.0)} <= 2)"
        )
    print(
        f"keeping {costs['n_tokens']} tokens of KV cache: per-sequence copy "
        f"{costs['seq_bytes'] / 1e6:.1f} MB, save {costs['seq_save_seconds'] * 1000:.0f} ms, "
        f"restore {costs['seq_load_seconds'] * 1000:.0f} ms; Llama.save_state "
        f"{costs['save_state_bytes'] / 1e6:.1f} MB, save {costs['save_state_seconds'] * 1000:.0f}"
        f" ms, load_state {costs['load_state_seconds'] * 1000:.0f} ms"
    )
    save(
        "prefix_reuse",
        {
            "machine": info,
            "model": str(args.model),
            "turns": args.turns,
            "runs": results,
            "summary": summary,
            "state_copy": costs,
        },
    )


if __name__ == "__main__":
    main()
