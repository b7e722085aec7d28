"""The command line, run as a user would: a subprocess with real models."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.cli import gguf_tui

GREEDY = [
    "--temperature",
    "0",
    "--seed",
    "1",
    "--max-tokens",
    "40",
    "--n-ctx",
    "1024",
    "--system",
    "You are a helpful assistant.",
]


def test_version_and_help_are_fast_and_do_not_load_llama():
    code = (
        "import sys, time; t=time.perf_counter(); from gguf_tui.cli import main; "
        "main(['--help']); "
        "assert 'llama_cpp' not in sys.modules and 'textual' not in sys.modules, 'heavy import';"
        "assert 'numpy' not in sys.modules, 'numpy imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "run" in proc.stdout and "chat" in proc.stdout
    out = gguf_tui("--version")
    assert out.returncode == 0 and out.stdout.startswith("gguf-tui ")


def test_run_answers_on_stdout_and_times_on_stderr(smollm_path):
    out = gguf_tui("run", smollm_path, "What is the capital of France?", *GREEDY)
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout
    # llama.cpp's own log never reaches the terminal; stderr has just the timings.
    assert "llama_model_loader" not in out.stderr + out.stdout
    assert "tok/s" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_run_reads_the_prompt_from_stdin(smollm_path):
    out = gguf_tui("run", smollm_path, *GREEDY, input="What is the capital of France?\n")
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout


def test_run_is_deterministic_with_a_seed(smollm_path):
    a = gguf_tui(
        "run", smollm_path, "Invent a name for a cat.", "--seed", "7", "--max-tokens", "20"
    )
    b = gguf_tui(
        "run", smollm_path, "Invent a name for a cat.", "--seed", "7", "--max-tokens", "20"
    )
    assert a.stdout == b.stdout and a.stdout.strip()


def test_run_raw_completion(smollm_path):
    out = gguf_tui(
        "run", smollm_path, "Hello, World!", "--raw", "--max-tokens", "20", "--seed", "1"
    )
    assert out.returncode == 0 and out.stdout.strip()


def test_llama_log_goes_to_the_log_file(smollm_path, tmp_path):
    out = gguf_tui("run", smollm_path, "Hi", *GREEDY, "--data-dir", tmp_path)
    assert out.returncode == 0
    log = (tmp_path / "logs" / "gguf-tui.log").read_text()
    assert "llama_model_loader" in log


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "model file not found"),
        ("empty", "is empty"),
        ("truncated", "is truncated"),
        ("wrong_magic", "not a GGUF model"),
        ("text", "not a GGUF model"),
        ("shard", "missing: "),
    ],
)
def test_errors_are_one_clear_line_with_status_2(case, message, broken, sharded_path, tmp_path):
    if case == "missing":
        path = tmp_path / "absent.gguf"
    elif case == "shard":
        path = tmp_path / sharded_path.name
        path.symlink_to(sharded_path)
    else:
        path = broken[case]
    out = gguf_tui("run", path, "hi")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gguf-tui: error:") and message in lines[0]


def test_prompt_larger_than_the_context_is_a_clear_error(smollm_path):
    out = gguf_tui("run", smollm_path, "word " * 800, "--n-ctx", "256")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "too long for the context window" in out.stderr


def test_chat_io_round_trips_history(smollm_path, tmp_path):
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "My name is Ada."},
                {"role": "assistant", "content": "Nice to meet you, Ada!"},
            ],
            indent=2,
        ),
        encoding="utf-8",
    )
    # -fa off: the greedy answer this checks was written without flash attention (auto,
    # the default, turns it on and changes a 135M model's numbers enough to forget Ada).
    out = gguf_tui(
        "chat", smollm_path, "-io", history, *GREEDY, "-fa", "off", input="What is my name?\nbye\n"
    )
    assert out.returncode == 0, out.stderr
    assert "user: " in out.stdout and "assistant: " in out.stdout
    saved = json.loads(history.read_text(encoding="utf-8"))
    assert [m["role"] for m in saved] == ["system", "user", "assistant", "user", "assistant"]
    assert saved[0]["content"] == "You are a helpful assistant."  # from --system
    assert saved[1]["content"] == "My name is Ada."
    assert saved[3]["content"] == "What is my name?"
    assert "Ada" in saved[4]["content"]
    assert history.read_text(encoding="utf-8").startswith("[\n  {")  # indented like chat.py


@pytest.mark.parametrize("ending", ["exit\n", "quit\n", "BYE\n", ""])  # "" is Ctrl+D
def test_chat_ends_and_saves(smollm_path, tmp_path, ending):
    output = tmp_path / "out.json"
    out = gguf_tui("chat", smollm_path, "-o", output, *GREEDY, input="Hello\n" + ending)
    assert out.returncode == 0, out.stderr
    saved = json.loads(output.read_text(encoding="utf-8"))
    assert [m["role"] for m in saved] == ["system", "user", "assistant"]


def test_chat_no_stream_prints_whole_answers(smollm_path):
    out = gguf_tui(
        "chat", smollm_path, "--no-stream", *GREEDY, input="What is the capital of France?\nexit\n"
    )
    assert "assistant: " in out.stdout and "Paris" in out.stdout


def test_chat_rejects_a_broken_history_file(smollm_path, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    out = gguf_tui("chat", smollm_path, "-i", bad, input="")
    assert out.returncode == 2 and "not valid JSON" in out.stderr and "Traceback" not in out.stderr


class _Reader(threading.Thread):
    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.text, self.lock = stream, "", threading.Lock()
        self.start()

    def run(self):
        while ch := self.stream.read(1):
            with self.lock:
                self.text += ch

    def wait_for(self, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.text):
                    return self.text
            time.sleep(0.02)
        raise AssertionError(f"timed out; output so far: {self.text!r}")


def test_ctrl_c_stops_the_answer_and_a_second_one_at_the_prompt_leaves(smollm_path, tmp_path):
    output = tmp_path / "out.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gguf_tui",
            "chat",
            str(smollm_path),
            "-o",
            str(output),
            "--max-tokens",
            "2000",
            "--seed",
            "3",
            "--n-ctx",
            "4096",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=0,
    )
    out = _Reader(proc.stdout)
    try:
        out.wait_for(lambda t: t.startswith("user: "))
        proc.stdin.write("Write a very long story about a lighthouse keeper.\n")
        proc.stdin.flush()
        out.wait_for(lambda t: len(t.split("assistant: ", 1)[-1]) > 30 and "assistant: " in t)
        proc.send_signal(signal.SIGINT)
        out.wait_for(lambda t: "[stopped]" in t and t.endswith("user: "))
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    saved = json.loads(Path(output).read_text(encoding="utf-8"))
    assert [m["role"] for m in saved] == ["user", "assistant"]
    assert len(saved[1]["content"]) > 20
