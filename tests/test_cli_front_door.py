"""The command line's front door: what a user types first (`list FOLDER`, a model's short
name, `bench`), run as a subprocess in a home of its own, offline."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.cli import gguf_tui


@pytest.fixture
def models_dir(ladder, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for quant in ("Q8_0", "Q4_K_M"):
        try:
            os.link(ladder[quant], folder / ladder[quant].name)
        except OSError:
            (folder / ladder[quant].name).symlink_to(ladder[quant])
    return folder


@pytest.fixture
def cli(tmp_path):
    """`gguf-tui ARGS` with its own data folder and an empty Hugging Face cache, offline."""
    data, hub = tmp_path / "data", tmp_path / "hub"
    hub.mkdir()
    env = {"HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}

    def run(*args, **kwargs):
        return gguf_tui(*args, "--data-dir", data, env=env, **kwargs)

    return run


def one_error_line(out) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gguf-tui: error: "), out.stderr
    return lines[0]


# -- list ------------------------------------------------------------------------------------
def test_list_a_folder_lists_the_models_in_it(cli, models_dir):
    out = cli("list", models_dir)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("NAME") and "QUANT" in lines[0]
    assert any("Q8_0" in ln for ln in lines) and any("Q4_K_M" in ln for ln in lines)
    data = json.loads(cli("list", models_dir, "--json").stdout)
    assert sorted(m["quant"] for m in data) == ["Q4_K_M", "Q8_0"]


def test_list_a_file_lists_that_model(cli, models_dir):
    out = cli("list", next(models_dir.glob("*Q8_0.gguf")))
    assert out.returncode == 0, out.stderr
    assert "Q8_0" in out.stdout and "Q4_K_M" not in out.stdout


@pytest.mark.parametrize(
    ("arg", "says"),
    [
        ("not a repo!", "not a folder, a .gguf file or a Hugging Face repository"),
        ("nonsense", "not a folder, a .gguf file or a Hugging Face repository"),
        ("./no/such/folder", "no such file or folder"),
        ("owner/name-GGUF:Q4_K_M", "gguf-tui list owner/name-GGUF"),
    ],
)
def test_list_of_something_unknown_is_one_clear_line(cli, arg, says):
    assert says in one_error_line(cli("list", arg))


def test_list_of_a_file_that_is_not_gguf(cli, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert "not a .gguf file" in one_error_line(cli("list", notes))


# -- a model's short name --------------------------------------------------------------------
def test_an_ambiguous_name_lists_the_models_it_matches(cli, models_dir):
    line = one_error_line(cli("run", "smollm2", "hi", "--models-dir", models_dir))
    assert "matches 2 models" in line
    assert "SmolLM2-135M-Instruct-Q8_0" in line and "SmolLM2-135M-Instruct-Q4_K_M" in line


def test_a_unique_partial_name_is_used_and_named(cli, models_dir):
    out = cli("run", "q8_0", "Hi", "--models-dir", models_dir, "--max-tokens", "4", "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert "using SmolLM2-135M-Instruct-Q8_0" in out.stderr
    assert out.stdout.strip()


def test_a_name_that_matches_nothing_says_so(cli, models_dir):
    line = one_error_line(cli("run", "mistral", "hi", "--models-dir", models_dir))
    assert "model file not found: mistral" in line


# -- bench -----------------------------------------------------------------------------------
TINY = ("--prompt-tokens", "40", "--gen-tokens", "6", "--repeat", "2")


def test_bench_shows_progress_per_run_and_a_table_of_100_columns(cli, models_dir, tmp_path):
    missing = tmp_path / ("a-model-with-a-rather-long-name-that-is-not-there-" * 2 + ".gguf")
    out = cli("bench", models_dir, missing, *TINY)
    assert out.returncode == 1, out.stderr  # the missing one is an error row
    assert "\r" not in out.stderr and "\x1b" not in out.stderr  # plain lines in a pipe
    for quant in ("Q8_0", "Q4_K_M"):
        assert f"{quant}: run 1/2" in out.stderr and f"{quant}: run 2/2" in out.stderr
    lines = out.stdout.splitlines()
    assert all(len(ln) <= 100 for ln in lines), "\n".join(lines)
    header = next(ln for ln in lines if "QUANT" in ln)
    assert "GEN tok/s" in header and "PEAK RSS" in header
    assert any("Q8_0" in ln for ln in lines) and any("Q4_K_M" in ln for ln in lines)
    assert any("not found" in ln for ln in lines)
    legend = out.stdout.split(header, 1)[1]
    assert "PEAK RSS:" in legend  # the column is explained under the table


def test_bench_help_explains_peak_rss(cli):
    out = cli("bench", "--help")
    assert out.returncode == 0
    assert "PEAK RSS" in " ".join(out.stdout.split())


# -- chat ------------------------------------------------------------------------------------
def test_chat_output_to_a_folder_is_refused_before_loading(cli, models_dir, tmp_path):
    model = next(models_dir.glob("*Q8_0.gguf"))
    line = one_error_line(cli("chat", model, "-o", tmp_path, input="hello\nbye\n"))
    assert "is a folder" in line


def test_the_app_without_a_terminal_says_so_instead_of_spinning(tmp_path):
    """Launched from a script (stdin at /dev/null, output to pipes) the full-screen app
    spun a core forever; it now says what to use instead, at once."""
    import time

    from tests.terminal.harness import Home

    began = time.monotonic()
    done = gguf_tui(timeout=30, env=Home(tmp_path / "home").env())
    assert done.returncode == 2
    assert "needs a terminal" in done.stderr and "gguf-tui run" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert time.monotonic() - began < 20
