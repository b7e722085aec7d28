"""What the Local filter takes for a path (opened on enter) and what stays a filter."""

from __future__ import annotations

from pathlib import Path

from gguf_tui.tui.widgets.local_models import short_path, typed_path


def test_explicit_paths_are_paths_even_when_nothing_is_there(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert typed_path("/no/such.gguf") == Path("/no/such.gguf")
    assert typed_path("~/llms") == tmp_path / "llms"
    assert typed_path("./x.gguf") == Path("./x.gguf")
    assert typed_path("$HOME/llms") == tmp_path / "llms"


def test_filters_stay_filters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in ("", "  ", "q4_k_m", "qwen 0.5b", "bartowski/SmolLM2-135M-Instruct-GGUF", "x.gguf"):
        assert typed_path(text) is None, text


def test_a_relative_name_that_exists_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.gguf").write_bytes(b"GGUF")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y.gguf").write_bytes(b"GGUF")
    assert typed_path("x.gguf") == Path("x.gguf")
    assert typed_path("sub/y.gguf") == Path("sub/y.gguf")


def test_pasted_forms_of_a_dropped_file(tmp_path):
    target = tmp_path / "my models" / "a b.gguf"
    target.parent.mkdir()
    target.write_bytes(b"GGUF")
    assert typed_path(f"'{target}'") == target
    assert typed_path(f'"{target}" ') == target
    assert typed_path(str(target).replace(" ", "\\ ")) == target
    assert typed_path("file://" + str(target).replace(" ", "%20")) == target


def test_short_path_writes_home_as_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert short_path(tmp_path / "llms") == "~/llms"
    assert short_path(tmp_path) == "~"
    assert short_path("/opt/llms") == "/opt/llms"
    assert short_path(str(tmp_path) + "x/llms") == str(tmp_path) + "x/llms"
