"""What streaming an answer costs the UI: CPU share of one core, ms CPU per token, bytes
written to the terminal per token, and how far the screen lags behind the server.

    python -m benchmarks.stream_cost [--tokens 200,1000,4000] [--rate 100] [--repeat 3]
    python -m benchmarks.stream_cost --engine MODEL.gguf [--tokens 1000]

The installed `gguf-tui` runs in a pseudo-terminal (120x40, as a user runs it) against a
deterministic OpenAI-compatible server on loopback that sends the same Markdown answer
(paragraphs, a list, a 40-line code block, a table, repeated to length) at a fixed rate,
one token per server-sent event, paced on absolute time so the server never drifts.
CPU is the app process's utime + stime from /proc, idle-corrected (the app's CPU rate
while idle, measured just before, is subtracted); bytes are everything the app wrote to
its pty while the answer streamed. The lag is from the server's last token to the
answer's end marker on the screen (a pyte screen fed by the reader thread).

The reference in the same run is the idle app itself (its CPU while nothing streams), and
each length is run interleaved (200, 1000, 4000, 200, …) so the noise of a shared machine
falls on every length alike.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import ptyprocess
import pyte

from benchmarks.common import machine, machine_line, median, save, spread, verdict

END = "ENDOFANSWER"
COLS, ROWS = 120, 40
TICKS = os.sysconf("SC_CLK_TCK")
PROFILED = [sys.executable, "-m", "cProfile"]

_BLOCK = """## Notes on streaming

A paragraph of ordinary prose comes first. It says what the section is about, with
**bold**, *emphasis* and `inline code`, and it wraps over a few lines of the terminal.

- the first item of a list
- a second item, somewhat longer, that wraps once it passes the width of the view
- a third

```python
def checksum(data: bytes) -> int:
    total = 0
""" + "".join(f"    total = (total * 31 + data[{i} % len(data)]) % 65521\n" for i in range(36))
_BLOCK += """    return total
```

| quant | size | bpw |
| --- | --- | --- |
| Q4_K_M | 4.1 GB | 4.85 |
| Q8_0 | 7.2 GB | 8.50 |

"""


def answer_tokens(n: int) -> list[str]:
    """n pieces of about four characters, the last one the end marker."""
    text = ""
    while len(text) < 4 * n:
        text += _BLOCK
    pieces = [text[i : i + 4] for i in range(0, 4 * (n - 1), 4)]
    return [*pieces, f"\n\n{END}"]


class PacedServer:
    """`/v1/models` and a streamed `/v1/chat/completions` at `rate` tokens per second."""

    def __init__(self, tokens: list[str], rate: float) -> None:
        self.tokens, self.rate = tokens, rate
        self.first_sent = self.last_sent = 0.0
        bench = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"data": [{"id": "bench-Q4_K_M", "object": "model"}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                began = time.perf_counter()
                bench.first_sent = time.monotonic()
                for n, piece in enumerate(bench.tokens):
                    wait = began + n / bench.rate - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    delta = {"choices": [{"delta": {"content": piece}}]}
                    self._chunk(f"data: {json.dumps(delta)}\n\n".encode())
                bench.last_sent = time.monotonic()
                finish = {"choices": [{"delta": {}, "finish_reason": "stop"}]}
                self._chunk(f"data: {json.dumps(finish)}\n\ndata: [DONE]\n\n".encode())
                self._chunk(b"")
                self.close_connection = True

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class App:
    """`gguf-tui --server URL` in a pty; counts the bytes it writes, keeps a screen."""

    def __init__(self, args: list[str], home: Path, profile: str | None = None) -> None:
        env = {
            **os.environ,
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "HF_HUB_OFFLINE": "1",
            "TERM": "xterm-256color",
        }
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.lock = threading.Lock()
        self.bytes = 0
        # --profile: the UI thread under cProfile (it does ~93 % of the work).
        command = ["gguf-tui"] if profile is None else [*PROFILED, "-o", profile, "-m", "gguf_tui"]
        self.proc = ptyprocess.PtyProcess.spawn([*command, *args], env=env, dimensions=(ROWS, COLS))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.proc.read(65536)
            except EOFError:
                return
            with self.lock:
                self.bytes += len(data)
                self.stream.feed(data)

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.screen.display)

    def wait_for(self, phrase: str, timeout: float) -> float:
        """The monotonic time `phrase` was first seen (polled every 10 ms)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if phrase in self.text():
                return time.monotonic()
            time.sleep(0.01)
        raise TimeoutError(f"{phrase!r} not on the screen:\n{self.text()}")

    def cpu(self) -> float:
        """Seconds of CPU the app has used: the launched process and its descendants (the
        TUI runs as the child of a small watchdog that restores the terminal)."""
        total, todo = 0.0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                    fields = fh.read().rpartition(")")[2].split()
                total += (int(fields[11]) + int(fields[12])) / TICKS
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(child) for child in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
        return total

    def ui_cpu(self) -> float:
        """Seconds of CPU the TUI's main thread (the UI) has used: with the embedded
        engine, llama.cpp's threads are the model's work, not the UI's."""
        pids, tui = [self.proc.pid], self.proc.pid
        while pids:
            tui = pids.pop()
            for task in Path(f"/proc/{tui}/task").iterdir():
                pids += [int(child) for child in (task / "children").read_text().split()]
        with open(f"/proc/{tui}/task/{tui}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def close(self) -> None:
        self.proc.write(b"\x11")  # ctrl+q
        deadline = time.monotonic() + 10
        while self.proc.isalive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.proc.isalive():
            self.proc.terminate(force=True)


def one_run(n: int, rate: float, idle_seconds: float, profile: str | None = None) -> dict:
    server = PacedServer(answer_tokens(n), rate)
    with tempfile.TemporaryDirectory(prefix="gguf-tui-stream-") as home:
        app = App(["--server", server.url], Path(home), profile)
        try:
            app.wait_for("bench-Q4_K_M", 60)
            time.sleep(1.0)  # the first paint and the model list settle
            idle_began, idle_cpu = time.monotonic(), app.cpu()
            time.sleep(idle_seconds)
            idle_rate = (app.cpu() - idle_cpu) / (time.monotonic() - idle_began)
            began_cpu, began_bytes = app.cpu(), app.bytes
            began = time.monotonic()
            app.proc.write(b"Write the notes.\r")
            shown = app.wait_for(END, 60 + 3 * n / rate)
            cpu = app.cpu() - began_cpu
            wall = time.monotonic() - began
            written = app.bytes - began_bytes
        finally:
            app.close()
            server.close()
    busy = max(0.0, cpu - idle_rate * wall)
    streaming = server.last_sent - server.first_sent
    return {
        "tokens": n,
        "rate": rate,
        "wall_s": wall,
        "stream_s": streaming,
        "cpu_s": cpu,
        "idle_cpu_share": idle_rate,
        "cpu_share": busy / wall,
        "ms_cpu_per_token": 1000 * busy / n,
        "bytes_per_token": written / n,
        "lag_s": shown - server.last_sent,
    }


ENGINE_PROMPT = b"Write a very long story about a lighthouse keeper, in many chapters.\r"


def engine_run(model: str, n: int, idle_seconds: float) -> dict:
    """The embedded engine (llama.cpp in the app's engine thread) on a real model: the
    UI thread's CPU only (the rest is the model's work), bytes per token, tokens/s as
    fast as the model goes (no fixed rate: a stand-in would not be the real engine)."""
    with tempfile.TemporaryDirectory(prefix="gguf-tui-stream-") as home:
        args = [model, "--max-tokens", str(n), "--temperature", "1.0", "--seed", "7"]
        app = App([*args, "--n-ctx", str(n + 200)], Path(home))
        try:
            app.wait_for("Q4", 120)
            time.sleep(1.0)
            idle_began, idle_cpu = time.monotonic(), app.ui_cpu()
            time.sleep(idle_seconds)
            idle_rate = (app.ui_cpu() - idle_cpu) / (time.monotonic() - idle_began)
            began_cpu, began_bytes, began = app.ui_cpu(), app.bytes, time.monotonic()
            app.proc.write(ENGINE_PROMPT)
            app.wait_for("writing …", 60)
            deadline = time.monotonic() + 600
            while "writing …" in app.text() and time.monotonic() < deadline:
                time.sleep(0.01)
            wall = time.monotonic() - began
            cpu, written = app.ui_cpu() - began_cpu, app.bytes - began_bytes
            database = Path(home) / "data" / "gguf-tui" / "conversations.sqlite3"
        finally:
            app.close()
        import sqlite3

        with sqlite3.connect(database) as db:
            (stats,) = db.execute(
                "SELECT stats FROM messages WHERE role='assistant' ORDER BY id DESC LIMIT 1"
            ).fetchone()
    tokens = json.loads(stats)["generated_tokens"]
    busy = max(0.0, cpu - idle_rate * wall)
    return {
        "tokens": tokens,
        "wall_s": wall,
        "tok_per_s": tokens / wall,
        "ui_cpu_share": busy / wall,
        "ms_ui_cpu_per_token": 1000 * busy / tokens,
        "bytes_per_token": written / tokens,
    }


def engine_main(model: str, n: int, repeat: int, idle: float) -> None:
    info = machine()
    print(machine_line(info))
    runs = []
    for r in range(repeat):
        run = engine_run(model, n, idle)
        runs.append(run)
        print(
            f"run {r + 1}/{repeat}: {run['tokens']} tok at {run['tok_per_s']:.0f} tok/s, UI "
            f"{run['ui_cpu_share']:.3f} core, {run['ms_ui_cpu_per_token']:.2f} ms/tok, "
            f"{run['bytes_per_token']:,.0f} B/tok",
            flush=True,
        )
    keys = ("tok_per_s", "ui_cpu_share", "ms_ui_cpu_per_token", "bytes_per_token")
    summary = {k: spread(run[k] for run in runs) for k in keys}
    print(
        f"\nembedded engine, medians: {summary['tok_per_s']['median']:.0f} tok/s, UI thread "
        f"{summary['ui_cpu_share']['median']:.3f} core, "
        f"{summary['ms_ui_cpu_per_token']['median']:.2f} ms/tok, "
        f"{summary['bytes_per_token']['median']:,.0f} B/tok"
    )
    save("stream_cost_engine", {"machine": info, "model": model, "runs": runs, "summary": summary})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", default="200,1000,4000")
    parser.add_argument("--rate", type=float, default=100.0, help="tokens per second")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle reference")
    parser.add_argument(
        "--profile", metavar="FILE", help="one run of the longest answer under cProfile, to FILE"
    )
    parser.add_argument(
        "--engine",
        metavar="MODEL",
        help="stream from the embedded engine on MODEL (a .gguf) instead of a server",
    )
    args = parser.parse_args()
    if args.engine:
        engine_main(
            args.engine, max(int(x) for x in args.tokens.split(",")), args.repeat, args.idle
        )
        return
    if args.profile:
        run = one_run(max(int(x) for x in args.tokens.split(",")), args.rate, 1.0, args.profile)
        print(json.dumps(run, indent=2))
        import pstats

        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)
        return
    lengths = [int(x) for x in args.tokens.split(",")]
    info = machine()
    print(machine_line(info))
    runs: dict[int, list[dict]] = {n: [] for n in lengths}
    for r in range(args.repeat):
        for n in lengths:  # interleaved: 200, 1000, 4000, 200, …
            run = one_run(n, args.rate, args.idle)
            runs[n].append(run)
            print(
                f"run {r + 1}/{args.repeat} {n:>5} tok: {run['cpu_share']:.3f} core, "
                f"{run['ms_cpu_per_token']:.2f} ms/tok, {run['bytes_per_token']:,.0f} B/tok, "
                f"lag {run['lag_s'] * 1000:.0f} ms",
                flush=True,
            )
    summary = {}
    print(f"\nmedians at {args.rate:g} tok/s (idle-corrected):")
    print(f"{'tokens':>7} {'core':>7} {'ms/tok':>7} {'B/tok':>7} {'lag ms':>7}")
    for n in lengths:
        keys = ("cpu_share", "ms_cpu_per_token", "bytes_per_token", "lag_s")
        s = {k: spread(run[k] for run in runs[n]) for k in keys}
        summary[n] = s
        print(
            f"{n:>7} {s['cpu_share']['median']:>7.3f} {s['ms_cpu_per_token']['median']:>7.2f} "
            f"{s['bytes_per_token']['median']:>7,.0f} {s['lag_s']['median'] * 1000:>7.0f}"
        )
    longest, shortest = max(lengths), min(lengths)
    growth = (
        summary[longest]["ms_cpu_per_token"]["median"]
        / summary[shortest]["ms_cpu_per_token"]["median"]
    )
    core = summary[longest]["cpu_share"]["median"]
    per_token = summary[longest]["bytes_per_token"]["median"]
    lag = summary[longest]["lag_s"]["median"]
    print(f"\nUI share of a core at {longest} tok: {core:.3f} (≤ 0.10: {verdict(core, 0.10)})")
    print(f"bytes per token: {per_token:,.0f} (≤ 300: {verdict(per_token, 300)})")
    print(f"growth {longest}/{shortest}: {growth:.2f}× (≤ 1.2: {verdict(growth, 1.2)})")
    print(f"lag behind the server: {lag * 1000:.0f} ms (≤ 200: {verdict(lag, 0.2)})")
    save(
        "stream_cost",
        {
            "machine": info,
            "rate": args.rate,
            "runs": runs,
            "summary": summary,
            "growth": growth,
            "median": median(r["cpu_share"] for r in runs[longest]),
        },
    )


if __name__ == "__main__":
    main()
