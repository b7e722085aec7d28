"""One app instance, headless in its own process, writing a conversation of its own.

Used to run two instances on one database at once: each waits for a line on stdin
(so both start together), sends COUNT messages one after another, waits for every
answer, and prints `done CONVERSATION_ID`. With a MODEL it answers with that model,
without one with the scripted fake engine (answers long enough to be checkpointed).
usage: python -m tests.support.instance_driver DATA_DIR NAME COUNT [MODEL]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gguf_tui.engine import Sampling
from tests.support.fake_engine import FakeEngine
from tests.support.tui import make_app, type_and_send, wait_idle, wait_until

FAKE_ANSWER = [f"piece {i} " for i in range(60)]


async def main(data_dir: Path, name: str, count: int, model: Path | None) -> None:
    app = make_app(
        data_dir,
        engine=None if model else FakeEngine(script=FAKE_ANSWER, delay=0.02),
        model_path=model,
        sampling=Sampling(temperature=0.8, seed=7, max_tokens=40),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 120, "the model")
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for i in range(count):
            await type_and_send(pilot, f"{name} message {i}")
            await wait_idle(pilot, 120)
        print("done", app.chat_screen.conversation_id, flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(Path(args[0]), args[1], int(args[2]), Path(args[3]) if args[3:] else None))
