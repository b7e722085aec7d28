"""Generation speed through the whole app vs raw llama-cpp-python, same model and settings.

    python -m benchmarks.ui_overhead [--model PATH] [--threads N] [--tokens 400] [--repeat 5]

Three ways to get the same answer (same model file, n_ctx, threads, prompt,
sampling chain and seed), interleaved raw, engine, app, raw, engine, app …:
- raw: `Llama.create_chat_completion(stream=True)`, chunks read in a loop;
- engine: our `Engine.chat`, events read in a blocking loop (the line chat);
- app: `GgufTuiApp` headless (`run_test`) with the real engine, a real store in a
  temporary folder, the prompt typed and sent, the reply drawn by ReplyStream.
(`--unpaced` adds the app as it was before gguf_tui/tui/pacer.py: a redraw on
every 30 Hz tick.) The figure is generation tok/s, (tokens - 1) / (last token - first token): for
raw from chunk arrival times, for ours from GenerationStats (the engine thread's
own clock, which is what slows down when the UI thread competes for the CPU).
Target: the app >= 98 % of raw (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, machine_line, median, save, spread, verdict
from gguf_tui.engine import Engine, LoadOptions, Sampling

SYSTEM = "You are a helpful assistant."  # what tests.support.tui.make_app sends
PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."
N_CTX = 2048


def raw_run(llm, sampling: Sampling) -> dict:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    stamps: list[float] = []
    parts: list[str] = []
    stream = llm.create_chat_completion(
        messages,
        stream=True,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        min_p=sampling.min_p,
        repeat_penalty=sampling.repeat_penalty,
        seed=sampling.seed,
        max_tokens=sampling.max_tokens,
    )
    for chunk in stream:
        content = chunk["choices"][0]["delta"].get("content")
        if content:
            stamps.append(time.perf_counter())
            parts.append(content)
    n = len(stamps)
    tps = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 else 0.0
    return {"tokens": n, "tok_s": tps, "text": "".join(parts)}


def engine_run(engine: Engine, sampling: Sampling) -> dict:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    gen = engine.chat(messages, sampling)
    for _ in gen:
        pass
    stats = gen.outcome.stats
    return {
        "tokens": stats.generated_tokens,
        "tok_s": stats.generation_tokens_per_second,
        "text": gen.outcome.text,
    }


async def app_run(engine: Engine, sampling: Sampling, data_dir: Path, paced: bool = True) -> dict:
    import gguf_tui.tui.streaming as streaming
    from gguf_tui.tui.pacer import UpdatePacer
    from tests.support.tui import make_app, type_and_send

    # Unpaced: every tick redraws, as before the pacer (gguf_tui/tui/pacer.py).
    streaming.UpdatePacer = UpdatePacer if paced else (lambda: UpdatePacer(budget=1e9))
    app = make_app(data_dir, engine=engine, sampling=sampling)
    async with app.run_test(size=(120, 40)) as pilot:
        started = time.perf_counter()
        await type_and_send(pilot, PROMPT)
        screen = app.chat_screen
        while screen.reply is not None:  # noqa: ASYNC110 (pilot.pause() would add UI work)
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - started
        saved = app.store.messages(app.chat_screen.conversation_id)[-1]
    return {
        "tokens": saved.stats["generated_tokens"],
        "tok_s": saved.stats["generation_tokens_per_second"],
        "text": saved.content,
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="default: SmolLM2-135M Q4_1 (tests)")
    parser.add_argument("--threads", type=int, help="default: llama.cpp's choice")
    parser.add_argument("--tokens", type=int, default=400, help="max_tokens of the answer")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval (s)")
    parser.add_argument("--pump-hz", type=float, help="how often the chat screen drains")
    parser.add_argument(
        "--unpaced", action="store_true", help="also run the app redrawing on every tick"
    )
    args = parser.parse_args()
    if args.switch_interval:
        import sys

        sys.setswitchinterval(args.switch_interval)
    if args.pump_hz:
        import gguf_tui.tui.streaming as streaming

        streaming.PUMP_HZ = args.pump_hz
    if args.model is None:
        from tests.support.models import smollm

        args.model = smollm()
    import llama_cpp

    from gguf_tui.engine.local import cpu_quirks
    from gguf_tui.engine.local.load_params import flash_attn_type

    cpu_quirks.apply(llama_cpp.llama_cpp)  # the reference loads as the engine does
    info = machine()
    print(machine_line(info))
    sampling = Sampling(seed=7, max_tokens=args.tokens)  # the app's default sampling chain
    # ... and with the engine's flash attention (auto), so all three write the same text.
    fa_mode = LoadOptions().flash_attn
    with (
        contextlib.redirect_stderr(io.StringIO()),
        flash_attn_type(llama_cpp.llama_cpp, fa_mode) as fa,
    ):
        llm = llama_cpp.Llama(
            model_path=str(args.model),
            n_ctx=N_CTX,
            n_threads=args.threads,
            flash_attn=fa,
            verbose=False,
        )
    runs: dict[str, list[dict]] = {"raw": [], "engine": [], "app": []}
    if args.unpaced:
        runs["app_unpaced"] = []
    with Engine() as engine, tempfile.TemporaryDirectory(prefix="gguf-ui-bench-") as tmp:
        loaded = engine.load(args.model, LoadOptions(n_ctx=N_CTX, n_threads=args.threads))
        model = loaded.result()
        assert model.n_threads == llm.n_threads, (model.n_threads, llm.n_threads)
        print(f"{model.label}, n_ctx {N_CTX}, {model.n_threads} threads, {args.tokens} tokens max")
        for i in range(args.repeat):
            runs["raw"].append(raw_run(llm, sampling))
            runs["engine"].append(engine_run(engine, sampling))
            runs["app"].append(asyncio.run(app_run(engine, sampling, Path(tmp) / str(i))))
            if args.unpaced:
                old = asyncio.run(app_run(engine, sampling, Path(tmp) / f"u{i}", paced=False))
                runs["app_unpaced"].append(old)
            speeds = ", ".join(f"{k} {runs[k][-1]['tok_s']:.1f}" for k in runs)
            counts = "/".join(str(runs[k][-1]["tokens"]) for k in runs)
            print(f"  run {i + 1}: {speeds} tok/s ({counts} tokens)")
    llm.close()
    med = {k: median(r["tok_s"] for r in v) for k, v in runs.items()}
    same = all(r["text"] == runs["raw"][0]["text"] for v in runs.values() for r in v)
    app_ratio, engine_ratio = med["app"] / med["raw"], med["engine"] / med["raw"]
    print("medians: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()) + " tok/s")
    print(f"  engine / raw = {engine_ratio:.3f}")
    print(
        f"  app / raw    = {app_ratio:.3f} ({verdict(app_ratio, 0.98, lower_is_better=False)}"
        " >= 0.98)"
    )
    print(f"  app / engine = {med['app'] / med['engine']:.3f}")
    if args.unpaced:
        print(
            f"  unpaced app / raw = {med['app_unpaced'] / med['raw']:.3f} (redrawing on every tick)"
        )
    print(f"  identical answers in all three: {same}")
    for r in (r for v in runs.values() for r in v):
        r.pop("text")
    save(
        "ui_overhead",
        {
            "machine": info,
            "model": str(args.model),
            "threads": args.threads,
            "n_threads_used": model.n_threads,
            "runs": runs,
            "tok_s": {k: spread(r["tok_s"] for r in v) for k, v in runs.items()},
            "app_over_raw": app_ratio,
            "engine_over_raw": engine_ratio,
            "identical_answers": same,
        },
    )


if __name__ == "__main__":
    main()
