"""Load hostile GGUF files in a process of their own, so a crash in llama.cpp fails a test
instead of killing pytest.

For each file: `Engine.load` (and a short reply when it loads), then the command line
`gguf-tui run FILE hi` through `cli.main` with file descriptors 1 and 2 captured, so
anything llama.cpp writes to them counts too. One JSON line per step on the real stdout;
a `start` line comes first, so the parent knows which file a crash happened on.
usage: python -m tests.support.hostile_worker DATA_DIR FILE...
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gguf_tui.engine import Engine, EngineError, LoadOptions, Sampling

OPTIONS = LoadOptions(n_ctx=512)
SAMPLING = Sampling(max_tokens=4, seed=1)


def report(out, **fields: object) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


@contextlib.contextmanager
def captured_fds() -> Iterator[dict[str, str]]:
    """Point fds 1 and 2 at temporary files; the dict gets their text on exit."""
    result: dict[str, str] = {}
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        files = {1: out, 2: err}
        try:
            for fd, fh in files.items():
                os.dup2(fh.fileno(), fd)
            yield result
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, fh in files.items():
                os.dup2(saved[fd], fd)
                os.close(saved[fd])
                fh.seek(0)
                result["stdout" if fd == 1 else "stderr"] = fh.read().decode("utf-8", "replace")


def main(data_dir: Path, files: list[Path]) -> None:
    from gguf_tui.cli import main as cli_main

    out = os.fdopen(os.dup(1), "w")
    with Engine() as engine:
        for path in files:
            report(out, file=path.name, stage="start")
            try:
                engine.load(path, OPTIONS).result(timeout=60)
                answer = engine.chat([{"role": "user", "content": "hi"}], SAMPLING).result(30)
                report(out, file=path.name, stage="engine", ok=True, answer=repr(answer))
            except EngineError as exc:
                report(out, file=path.name, stage="engine", ok=False, message=str(exc))
            args = ["run", str(path), "hi", "--n-ctx", "512", "--max-tokens", "4"]
            with captured_fds() as seen:
                rc = cli_main([*args, "--data-dir", str(data_dir)])
            report(out, file=path.name, stage="cli", rc=rc, **seen)
    report(out, stage="done")


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
