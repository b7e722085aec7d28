"""The app, headless in a process of its own, chatting until it is killed.

Used by the crash-safety tests: the parent kills this process with SIGKILL at a
random moment and checks what the database kept. Each run goes on with the last
conversation (odd runs, so an interrupted answer is reopened) or starts a new one,
and sends short messages one after another, each answered twice (ctrl+r: a second
version beside the first), so a kill can land anywhere: while a message is saved,
while the prompt is read, mid-answer or mid-regenerate, while an answer is saved.
usage: python -m tests.support.crash_driver DATA_DIR MODEL RUN
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gguf_tui.engine import Sampling
from gguf_tui.store.database import Store
from tests.support.tui import make_app, type_and_send, wait_idle, wait_until


async def main(data_dir: Path, model: Path, run: int) -> None:
    reopen = None
    if run % 2:
        with Store(data_dir / "conversations.sqlite3") as store:
            last = store.last_conversation()
            reopen = last.id if last else None
    app = make_app(
        data_dir,
        model_path=model,
        # Answers long enough to be checkpointed a few times (0.5 s apart) before they end.
        sampling=Sampling(temperature=0.8, seed=run, max_tokens=120, ignore_eos=True),
        open_conversation=reopen,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 120, "the model")
        print("ready", flush=True)
        n = 0
        while True:  # until SIGKILL
            await type_and_send(pilot, f"Run {run}, message {n}: one fact about lighthouses.")
            await wait_idle(pilot, 120)
            await pilot.press("ctrl+r")  # a second version of the answer, beside the first
            await wait_until(pilot, lambda: app.chat_screen.reply is not None, 30, "regenerate")
            await wait_idle(pilot, 120)
            n += 1


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
