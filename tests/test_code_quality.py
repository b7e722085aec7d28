"""The rules of the codebase, checked on every run: lint and the layer contracts."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layers_hold():
    """engine/, models/, store/ and config never import Textual; only engine imports llama_cpp."""
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    proc = subprocess.run(
        [exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ~500 lines is a guideline for the reader, not a reason to split a class; this only
# catches a module that has clearly stopped being readable in one sitting.
MAX_MODULE_LINES = 700


def test_no_module_is_too_long():
    too_long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "gguf_tui").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"these modules are no longer readable in one sitting: {too_long}"
