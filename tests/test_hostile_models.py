"""Hostile GGUF files (tests/support/hostile_variants.py): each one gets a plain reason, at
every level a user meets it, and nothing crashes.

- our header reader and pre-flight checks (`check_loadable`), and the catalog's listing;
- `Engine.load` and `gguf-tui run FILE hi`, in a worker process (a crash in llama.cpp
  must fail the test, not kill pytest);
- chat templates that try to leave Jinja's sandbox: no code runs, the user is told why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gguf_tui.engine import Engine, EngineError, Failed, LoadOptions, Sampling
from gguf_tui.engine.local.chat_format import (
    GGUF_TEMPLATE_NAME,
    TEMPLATE,
    ChatFormatChoice,
    ChatFormatError,
    make_renderer,
)
from gguf_tui.models.catalog import scan
from gguf_tui.models.gguf_checks import check_loadable
from gguf_tui.models.gguf_file import GGUFError
from tests.support.hostile_gguf import base_model, sandbox_escapes, template_model, write_variants
from tests.support.hostile_variants import LOADS, READER, VARIANTS
from tests.support.tui import make_app, notifications, type_and_send, wait_idle, wait_until

ROOT = Path(__file__).resolve().parents[1]
BY_NAME = {v.name: v for v in VARIANTS}


def plain(message: str) -> bool:
    """One short line a person can read: no traceback, no control characters."""
    return (
        "Traceback" not in message
        and "\n" not in message.strip()
        and all(c.isprintable() for c in message.strip())
        and 10 < len(message.strip()) < 400
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    return write_variants(tmp_path_factory.mktemp("hostile"), VARIANTS)


def test_there_are_enough_variants():
    assert len(VARIANTS) >= 60
    assert sum(v.caught == READER for v in VARIANTS) >= 40


@pytest.mark.parametrize("name", [v.name for v in VARIANTS])
def test_the_header_reader_gives_a_reason(hostile, name):
    variant = BY_NAME[name]
    if variant.caught != READER:
        check_loadable(hostile[name])  # well-formed as far as a header can tell
        return
    with pytest.raises(GGUFError) as caught:
        check_loadable(hostile[name])
    message = str(caught.value)
    assert plain(message), message
    assert hostile[name].name in message or hostile[name].stem in message


def test_the_catalog_lists_every_broken_file_with_its_reason(hostile):
    models = {m.path.name: m for m in scan([next(iter(hostile.values())).parent], hf_cache=None)}
    assert set(models) == {p.name for p in hostile.values()}
    for variant in VARIANTS:
        model = models[f"{variant.name}.gguf"]
        if variant.caught == READER:
            assert not model.usable and model.error and plain(model.error), variant.name
        else:
            assert model.usable, (variant.name, model.error)


def run_worker(data_dir: Path, files: list[Path]) -> tuple[dict[str, dict], list[str]]:
    """Every file through the worker; a crash is recorded and the rest run in a new one."""
    results: dict[str, dict] = {}
    crashed: list[str] = []
    todo = list(files)
    while todo:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.support.hostile_worker", str(data_dir), *map(str, todo)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "GGUF_TUI_DATA_DIR": str(data_dir)},
        )
        current = None
        for line in proc.stdout.splitlines():
            if not line.startswith("{"):
                continue  # a crashing llama.cpp prints its backtrace here
            event = json.loads(line)
            if event["stage"] == "start":
                current = event["file"]
            elif event["stage"] != "done":
                results.setdefault(event["file"], {})[event["stage"]] = event
        if proc.returncode == 0:
            break
        assert current is not None, proc.stderr[-2000:]
        why = [line for line in proc.stderr.splitlines() if "GGML" in line or "terminate" in line]
        crashed.append(f"{current}: exit {proc.returncode}: {why or proc.stderr[-300:]}")
        todo = todo[[p.name for p in todo].index(current) + 1 :]
    return results, crashed


def test_engine_and_command_line_refuse_each_file_plainly_and_survive(hostile, tmp_path):
    files = [hostile[v.name] for v in VARIANTS] + [base_model()]
    results, crashed = run_worker(tmp_path, files)
    assert crashed == []  # llama.cpp aborted the process on these
    problems = []
    for variant in VARIANTS:
        name = f"{variant.name}.gguf"
        engine, cli = results[name]["engine"], results[name]["cli"]
        if variant.caught == LOADS:
            ok = engine["ok"] and "Finished" in engine["answer"] and cli["rc"] == 0
        else:
            message = engine.get("message", "")
            lines = cli["stderr"].strip().splitlines()
            ok = (
                not engine["ok"]
                and plain(message)
                and cli["rc"] == 2
                and lines == [f"gguf-tui: error: {message}"]
                and cli["stdout"] == ""
            )
            if variant.caught == READER:  # our own reason, before llama.cpp saw the file
                ok = ok and not message.startswith("llama.cpp could not load")
            else:
                prefix = f"llama.cpp could not load {name}: "
                ok = ok and message.startswith(prefix) and len(message) > len(prefix) + 10
        if not ok:
            problems.append((variant.name, results[name]))
    assert problems == []
    survived = results[base_model().name]["engine"]
    assert survived["ok"] and "Finished" in survived["answer"]  # the engine still works


@pytest.mark.parametrize("case", ["corrupt", "llama.cpp", "template"])
def test_the_real_command_line_prints_one_line_and_exits_2(hostile, tmp_path, case):
    if case == "template":
        marker = tmp_path / "pwned"
        path = template_model(tmp_path / "t.gguf", sandbox_escapes(marker)["cve-2024-34359"])
    else:
        path = hostile["zero-blocks" if case == "corrupt" else "unknown-architecture"]
    out = subprocess.run(
        [sys.executable, "-m", "gguf_tui", "run", str(path), "hi"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gguf-tui: error: "), out.stderr
    expected = {
        "corrupt": "claims 0 layers",
        "llama.cpp": "unknown model architecture: 'llamX'",
        "template": "tried to reach Python internals",
    }[case]
    assert expected in lines[0]
    if case == "template":
        assert not marker.exists()


# -- chat templates ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(sandbox_escapes(Path("/x"))))
def test_a_template_that_escapes_the_sandbox_runs_no_code(name, tmp_path):
    marker = tmp_path / "pwned"
    template = sandbox_escapes(marker)[name]
    choice = ChatFormatChoice(GGUF_TEMPLATE_NAME, TEMPLATE)
    render = make_renderer(choice, {"tokenizer.chat_template": template}, "<s>", "</s>")
    conversation = [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]
    with pytest.raises(ChatFormatError) as caught:
        render(conversation)
    assert plain(str(caught.value)) and "--chat-format" in str(caught.value)
    assert not marker.exists()


def test_loading_a_model_with_an_escaping_template_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    escapes = sandbox_escapes(marker)
    refused = template_model(tmp_path / "cve.gguf", escapes["cve-2024-34359"])
    later = template_model(tmp_path / "later.gguf", escapes["only-on-second-turn"])
    broken = template_model(tmp_path / "broken.gguf", "{% for %}")
    with Engine() as engine:
        with pytest.raises(EngineError, match="tried to reach Python internals"):
            engine.load(refused, LoadOptions(n_ctx=512)).result(60)
        with pytest.raises(EngineError, match="chat template is broken"):
            engine.load(broken, LoadOptions(n_ctx=512)).result(60)
        # Another prompt format is the way out, even for a template that does not compile.
        info = engine.load(broken, LoadOptions(n_ctx=512, chat_format="chatml")).result(60)
        assert info.chat_format.name == "chatml"
        # A template that misbehaves only later fails that answer, with the reason.
        engine.load(later, LoadOptions(n_ctx=512)).result(60)
        first = engine.chat([{"role": "user", "content": "hi"}], Sampling(max_tokens=2)).result(30)
        assert not isinstance(first, Failed)
        turns = [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]
        second = engine.chat(turns, Sampling(max_tokens=2)).result(30)
        assert isinstance(second, Failed) and "Python internals" in second.message
    assert not marker.exists()


async def test_the_app_shows_the_template_error_and_keeps_the_message(tmp_path):
    marker = tmp_path / "pwned"
    model = template_model(tmp_path / "later.gguf", sandbox_escapes(marker)["only-on-second-turn"])
    app = make_app(tmp_path / "data", model_path=model)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.engine.info is not None, 60, "the model")
        await type_and_send(pilot, "first")
        await wait_idle(pilot)
        await type_and_send(pilot, "second")
        await wait_idle(pilot)
        assert "tried to reach Python internals" in notifications(app)
        saved = app.store.messages(app.chat_screen.conversation_id)
        assert [m.content for m in saved if m.role == "user"] == ["first", "second"]
        assert app.is_running
    assert not marker.exists()
