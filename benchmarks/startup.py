"""Start-up figures: first paint with 10,000 conversations, opening a 2,000-message
conversation, and `gguf-tui --help`.

    python -m benchmarks.startup [--conversations 10000] [--messages 2000] [--side 0.2]
                                 [--repeat 5]

- Launch to first paint (target < 1 s): a fresh process builds the app on a
  database of N conversations and runs it headless (`App.run_test`) until the
  sidebar shows rows; timed by the parent from spawn to the child's "painted"
  line, so interpreter start and every import count. Reference: the same with an
  empty database, same run, interleaved.
- Opening a conversation of M messages (target < 300 ms), a share of them (`--side`,
  20 % by default) on side branches (other versions of answers and edited
  questions, a few messages deep): in one app, time `ChatScreen.open_conversation`
  plus the refresh after it. Reference: a conversation of 20 messages.
- `gguf-tui --help` (target < 0.3 s): `python -m gguf_tui --help` in a subprocess.
  Reference: `python -c pass` (the interpreter alone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, machine, machine_line, median, save, spread, verdict


def build_database(
    data_dir: Path, conversations: int, long_messages: int, side: float = 0.0
) -> dict[str, int]:
    """N two-message conversations, then a long one (`side` of its messages on side
    branches) and a 20-message one (newest)."""
    from gguf_tui.config.settings import resolve_paths
    from gguf_tui.store.database import Store
    from gguf_tui.store.records import NewMessage

    store = Store(resolve_paths(data_dir).database)
    try:
        for i in range(conversations):
            store.import_conversation(
                f"Conversation {i}: planning a trip to city number {i}",
                [
                    NewMessage("user", f"What should I see in city {i}? " * 3),
                    NewMessage("assistant", f"In city {i}, start with the old town. " * 8),
                ],
            )

        def turns(n: int) -> list:
            said = "A paragraph of *Markdown* with `code` and a [link](https://example.org). "
            return [
                NewMessage("user" if k % 2 == 0 else "assistant", f"{k}: " + said * 4)
                for k in range(n)
            ]

        long = turns(long_messages)
        shown = None
        if side:
            long, shown = with_side_branches(long, side)
        long_id = store.import_conversation("A very long chat", long, shown=shown).id
        short_id = store.import_conversation("A short chat", turns(20)).id
    finally:
        store.close()
    return {"long": long_id, "short": short_id}


def with_side_branches(chain: list, share: float) -> tuple[list, int]:
    """The same number of messages, `share` of them moved onto side branches: runs of
    one to three messages that leave the main line at an evenly spread message (a new
    version of an answer, or of a question and what followed it). Returns the messages
    (each after its parent) and the index of the last message of the main line."""
    from dataclasses import replace

    total = len(chain)
    sides = int(total * share)
    main = chain[: total - sides]
    out = [replace(m, parent=None if i == 0 else i - 1) for i, m in enumerate(main)]
    leave_at = max(1, len(main) // max(1, sides // 2))
    k = 0
    while k < sides:
        at = (k // 2 * leave_at) % (len(main) - 1) + 1
        run = min(sides - k, 1 + k % 3)
        parent = out[at].parent
        for j in range(run):
            source = main[(at + j) % len(main)]
            out.append(
                replace(source, content="(another version) " + source.content, parent=parent)
            )
            parent = len(out) - 1
        k += run
    return out, len(main) - 1


CHILD = """
import asyncio, sys
from pathlib import Path
from gguf_tui.config.settings import load_config, resolve_paths
from gguf_tui.store.database import Store
from gguf_tui.tui.app import GgufTuiApp

async def main():
    paths = resolve_paths(Path(sys.argv[1]))
    config, store = load_config(paths.config_file), Store(paths.database)
    app = GgufTuiApp(paths=paths, config=config, store=store)
    want = int(sys.argv[2])
    async with app.run_test(size=(120, 40)) as pilot:
        while True:
            try:
                shown = app.chat_screen.sidebar.option_list.option_count
            except Exception:
                shown = -1
            if shown >= want:
                break
            await asyncio.sleep(0.002)
        await pilot.pause()
        print("painted", shown, flush=True)

asyncio.run(main())
"""


def first_paint(data_dir: Path, want_rows: int, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), str(want_rows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait(30)
    if not line.startswith("painted"):
        raise RuntimeError(f"the app did not paint (exit status {proc.returncode})")
    return elapsed


async def open_times(data_dir: Path, ids: dict[str, int], repeat: int) -> dict[str, list[float]]:
    from gguf_tui.config.settings import load_config, resolve_paths
    from gguf_tui.store.database import Store
    from gguf_tui.tui.app import GgufTuiApp

    paths = resolve_paths(data_dir)
    app = GgufTuiApp(
        paths=paths, config=load_config(paths.config_file), store=Store(paths.database)
    )
    times: dict[str, list[float]] = {"short": [], "long": []}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        while len(app.screen_stack) > 2:  # the model picker an app without a model opens
            app.pop_screen()
            await pilot.pause()
        screen = app.chat_screen
        for _ in range(repeat):
            for kind in ("short", "long"):
                await screen.open_conversation(None)
                await pilot.pause()
                started = time.perf_counter()
                await screen.open_conversation(ids[kind])
                await pilot.pause()
                times[kind].append(time.perf_counter() - started)
                assert screen.view.message_widgets, "nothing was shown"
    return times


def subprocess_seconds(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--side", type=float, default=0.2, help="share on side branches")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    info = machine()
    print(machine_line(info))
    with tempfile.TemporaryDirectory(prefix="gguf-startup-bench-") as tmp:
        big, empty = Path(tmp) / "big", Path(tmp) / "empty"
        env = dict(os.environ, GGUF_TUI_CONFIG_DIR=str(Path(tmp) / "config"), HF_HUB_OFFLINE="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        os.environ.update(GGUF_TUI_CONFIG_DIR=env["GGUF_TUI_CONFIG_DIR"], HF_HUB_OFFLINE="1")
        started = time.perf_counter()
        ids = build_database(big, args.conversations, args.messages, args.side)
        build_database(empty, 0, 0)
        print(f"built the database in {time.perf_counter() - started:.1f} s")

        paint_big, paint_empty, helps, bare = [], [], [], []
        for _ in range(args.repeat):  # interleaved, so both see the same noise
            paint_empty.append(first_paint(empty, 1, env))
            paint_big.append(first_paint(big, 1, env))
            bare.append(subprocess_seconds([sys.executable, "-c", "pass"], env))
            helps.append(subprocess_seconds([sys.executable, "-m", "gguf_tui", "--help"], env))
        opens = asyncio.run(open_times(big, ids, args.repeat))

    pb, pe = median(paint_big), median(paint_empty)
    ol, os_ = median(opens["long"]), median(opens["short"])
    h, b = median(helps), median(bare)
    n, m = args.conversations, args.messages
    print(f"medians of {args.repeat} runs:")
    print(f"  first paint, {n:,} conversations  {pb * 1000:7.0f} ms   ({verdict(pb, 1.0)} < 1 s)")
    print(f"  first paint, 2 conversations   {pe * 1000:7.0f} ms   (ratio {pb / pe:.2f})")
    print(
        f"  open {m:,} messages ({args.side:.0%} side) {ol * 1000:5.0f} ms   "
        f"({verdict(ol, 0.3)} < 300 ms)"
    )
    print(f"  open 20 messages               {os_ * 1000:7.0f} ms   (ratio {ol / os_:.2f})")
    print(f"  gguf-tui --help                {h * 1000:7.0f} ms   ({verdict(h, 0.3)} < 0.3 s)")
    extra = (h - b) * 1000
    print(f"  python -c pass                 {b * 1000:7.0f} ms   (--help adds {extra:.0f} ms)")
    save(
        "startup",
        {
            "machine": info,
            "conversations": n,
            "messages": m,
            "side_branch_share": args.side,
            "first_paint_seconds": spread(paint_big),
            "first_paint_empty_seconds": spread(paint_empty),
            "open_long_seconds": spread(opens["long"]),
            "open_short_seconds": spread(opens["short"]),
            "help_seconds": spread(helps),
            "python_seconds": spread(bare),
        },
    )


if __name__ == "__main__":
    main()
