"""`gguf-tui pull`, `gguf-tui list` and `--remote`, run as a user would: subprocesses
talking to the loopback Hub."""

from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gguf_tui.models.catalog import ModelFile
from tests.support.cli import gguf_tui as run_gguf_tui
from tests.support.fake_hub import GATED_REPO, LADDER_REPO

pytest_plugins = ["tests.conftest_hub"]

Q3 = "SmolLM2-135M-Instruct-Q3_K_S.gguf"


def gguf_tui(*args, timeout=120, **env):
    return run_gguf_tui(*args, timeout=timeout, env=env)


def one_error_line(out) -> str:
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gguf-tui: error: ")
    return lines[0]


def test_pull_prints_the_path_with_progress_on_stderr(fake_hub, ladder, hub_env):
    out = gguf_tui("pull", f"{LADDER_REPO}:Q3_K_S")
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.name == Q3 and path.is_relative_to(hub_env / "hub")
    assert filecmp.cmp(path, ladder["Q3_K_S"], shallow=False)
    assert "100%" in out.stderr and "88.2 MB / 88.2 MB" in out.stderr

    again = gguf_tui("pull", f"{LADDER_REPO}/*Q3_K_S.gguf")  # already there: same path
    assert again.returncode == 0 and again.stdout == out.stdout


def test_pull_into_a_folder(fake_hub, tmp_path, ladder):
    out = gguf_tui("pull", f"{LADDER_REPO}:q3_k_s", "--dir", tmp_path / "models", "--quiet")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "models" / Q3)
    assert out.stderr == ""


def test_ctrl_c_cancels_a_pull_cleanly(fake_hub, hub_env):
    fake_hub.rate = 10e6  # ~9 s for the whole file
    proc = subprocess.Popen(
        [sys.executable, "-m", "gguf_tui", "pull", f"{LADDER_REPO}:Q3_K_S"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert fake_hub.wait_for(lambda: fake_hub.body_bytes_sent > 2_000_000, timeout=60)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert stdout == "" and "download cancelled" in stderr and "Traceback" not in stderr
    assert fake_hub.wait_for(lambda: fake_hub.bodies_in_flight == 0, timeout=10)
    leftovers = [p for p in (hub_env / "hub").rglob("*") if p.suffix in (".gguf", ".incomplete")]
    assert leftovers == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nobody/nothing-GGUF:Q4_K_M", "repository nobody/nothing-GGUF not found"),
        (f"{GATED_REPO}:Q3_K_S", "hf auth login"),
        (f"{LADDER_REPO}:Q2_K", "has no quantization Q2_K"),
        ("./some/file.gguf", "is not a Hub model"),
    ],
)
def test_pull_errors_are_one_line(fake_hub, spec, message):
    assert message in one_error_line(gguf_tui("pull", spec))


def test_pull_offline_without_the_cache(fake_hub):
    line = one_error_line(gguf_tui("pull", f"{LADDER_REPO}:Q3_K_S", HF_HUB_OFFLINE="1"))
    assert "offline mode is on" in line
    assert fake_hub.count() == 0


def test_list_json_has_every_model_field(ladder, tmp_path):
    folder = tmp_path / "ladder"
    folder.mkdir()
    for p in ladder.values():
        (folder / p.name).symlink_to(p)
    out = gguf_tui("list", "--json", "--no-hf-cache", "--models-dir", folder)
    assert out.returncode == 0, out.stderr
    models = json.loads(out.stdout)
    assert len(models) == 6
    assert set(models[0]) == set(ModelFile.__dataclass_fields__)
    q6 = next(m for m in models if m["quant"] == "Q6_K")
    assert q6["bits_per_weight"] == pytest.approx(8.12, abs=0.05)
    assert q6["path"] == str(folder / ladder["Q6_K"].name)


def test_list_marks_broken_and_incomplete_models(broken, sharded_path, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / broken["truncated"].name).symlink_to(broken["truncated"])
    (folder / sharded_path.name).symlink_to(sharded_path)
    out = gguf_tui("list", "--no-hf-cache", "--models-dir", folder)
    assert out.returncode == 0, out.stderr
    assert "! broken: SmolLM2-135M-Instruct-truncated-Q4_1.gguf is truncated" in out.stdout
    assert "! incomplete: missing SmolLM2-135M-Instruct-Q4_1-00002-of-00002.gguf" in out.stdout


def test_list_repo_prints_its_quantizations(fake_hub):
    out = gguf_tui("list", LADDER_REPO, "--n-ctx", "8192")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["QUANT", "SIZE", "BPW"] and "@ 8192 ctx" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == [
        "Q3_K_S",
        "IQ4_NL",
        "Q4_K_M",
        "Q5_K_M",
        "Q6_K",
        "Q8_0",
    ]
    assert "good default" in next(line for line in lines if line.startswith("Q4_K_M"))
    assert f"gguf-tui pull {LADDER_REPO}:QUANT" in out.stderr


def test_run_with_remote_downloads_then_answers_offline_from_the_cache(fake_hub):
    greedy = ["--temperature", "0", "--seed", "1", "--max-tokens", "8", "--n-ctx", "512"]
    out = gguf_tui("run", "--remote", f"{LADDER_REPO}/*Q3_K_S.gguf", "Say hello.", *greedy)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    assert "100%" in out.stderr  # the download's progress bar
    before = fake_hub.count()
    again = gguf_tui("run", f"{LADDER_REPO}:Q3_K_S", "Say hello.", *greedy, HF_HUB_OFFLINE="1")
    assert again.returncode == 0, again.stderr
    assert again.stdout == out.stdout
    assert fake_hub.count() == before  # not one request: the cached file was used


def test_model_and_remote_together_is_an_error(fake_hub, smollm_path):
    out = gguf_tui("run", "--remote", f"{LADDER_REPO}/*Q3_K_S.gguf", smollm_path, "hi")
    assert "not both" in one_error_line(out)
