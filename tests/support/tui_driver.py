"""Run the app headlessly in its own process and send one prompt, then idle.

Used by the crash-safety tests: the parent kills this process with SIGKILL while
the answer streams and then checks what the database kept.
usage: python -m tests.support.tui_driver DATA_DIR MODEL PROMPT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gguf_tui.engine import Sampling
from tests.support.tui import make_app, type_and_send, wait_until


async def main(data_dir: Path, model: Path, prompt: str) -> None:
    app = make_app(
        data_dir, model_path=model, sampling=Sampling(temperature=0.8, seed=11, max_tokens=3000)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 120, "the model")
        await type_and_send(pilot, prompt)
        print("sent", flush=True)
        await wait_until(pilot, lambda: False, seconds=600, what="the kill")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
