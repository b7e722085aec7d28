"""Hostile GGUF files in the real `gguf-tui` (issue 16): the picker lists impossible split
names and links that lead nowhere as broken, with the reason, and a scan of a folder of
slow hostile headers never keeps ctrl+q from quitting at once.
"""

from __future__ import annotations

import time

from tests.support.hostile_gguf import base_model
from tests.terminal.harness import CTRL_Q, Home, launched
from tests.test_hostile_gguf import string_array

QUIT_SECONDS = 6.0  # ctrl+q during a scan of ~40 s of hostile headers


def test_the_picker_lists_impossible_files_as_broken(home: Home):
    models = home.models
    models.mkdir(parents=True, exist_ok=True)
    (models / "tiny-00001-of-00000.gguf").write_bytes(base_model().read_bytes())
    (models / "dangling.gguf").symlink_to(models / "nowhere.gguf")
    string_array(models / "billions.gguf", "tokenizer.ggml.merges", 6_700_000_000, 100 << 30)
    with launched(home, "--models-dir", models, cols=160, rows=40) as term:
        screen = term.wait_for(lambda s: "dangling" in s and "billions" in s, 60, "the scan")
        assert "Traceback" not in screen
        term.wait_for(lambda s: "cannot be" in s or "broken" in s.lower(), 10, "a reason")
        assert term.quit() == 0 and term.restored()


def test_quit_does_not_wait_for_a_scan_of_slow_headers(home: Home):
    models = home.models
    models.mkdir(parents=True, exist_ok=True)
    for i in range(14):  # each ~3 s to walk (4,194,304 empty strings, under every cap)
        string_array(models / f"slow-{i:02d}.gguf", "tokenizer.ggml.merges", 1 << 22, 40 << 20)
    with launched(home, "--models-dir", models, cols=120, rows=40) as term:
        term.wait_for("Looking for models", 60, "the scan to start")
        time.sleep(1.0)  # well into the first header
        began = time.monotonic()
        term.write(CTRL_Q)
        while term.proc.isalive() and time.monotonic() - began < 60:
            time.sleep(0.05)
        took = time.monotonic() - began
        assert not term.proc.isalive(), "still running a minute after ctrl+q"
        assert took < QUIT_SECONDS, f"quitting took {took:.1f} s"
        term._reader.join(5)
        assert term.restored()


def test_escape_cancels_the_load_of_a_looping_template(home: Home, tmp_path):
    from tests.support.hostile_gguf import template_model
    from tests.terminal.harness import ESCAPE

    loop = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}x"
    model = home.add_model(template_model(tmp_path / "looping.gguf", loop))
    with launched(home, model, "--n-ctx", "512", cols=120, rows=40) as term:
        term.wait_for(lambda s: "looping" in s.lower(), 60, "the load to start")
        time.sleep(0.5)  # the template is rendering now (it would for minutes)
        began = time.monotonic()
        term.write(ESCAPE)
        term.wait_for("Cancelled", 10, "the load to be cancelled")
        assert time.monotonic() - began < 3.0
        assert term.quit() == 0 and term.restored()
