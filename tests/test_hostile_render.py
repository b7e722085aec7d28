"""Hostile chat templates, context lengths and thread counts (issue 16): every render is
bounded in time and size and escape really cancels it; an unbelievable training context
and an absurd thread count are clamped with a note; an empty rendered prompt is a reason,
not "unexpected error".

Real parts: llama-cpp-python's Jinja2ChatFormatter, the tiny llama model of
tests/support/hostile_gguf.py, `gguf-tui run` measured by tests/support/measured.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from gguf_tui.engine import Engine, EngineError, Failed, Finished, LoadOptions, Sampling
from gguf_tui.engine.local.chat_format import (
    GGUF_TEMPLATE_NAME,
    TEMPLATE,
    ChatFormatChoice,
    ChatFormatError,
    RenderCancelled,
    check_template,
    make_renderer,
)
from gguf_tui.engine.local.llama_model import LoadCancelled
from gguf_tui.engine.local.template_guard import RENDER_SECONDS
from gguf_tui.engine.options import THREADS_PER_CORE, bounded_threads, usable_cores
from tests.support.hostile_gguf import _tokenizer, template_model, write_tiny
from tests.support.measured import run_measured

NESTED = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}x"
HOSTILE = {
    "nested-loop": NESTED,
    "lipsum": "{{ lipsum(n=100000) }}",
    "multiply": "{{ 'x ' * 10**8 }}",
    "doubling-concat": "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "doubling-plus": "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
    "center-filter": "{{ 'x'|center(10**9) }}",
    "center-method": "{{ 'x'.center(10**9) }}",
    "format-width": "{{ '{:>999999999}'.format(1) }}",
    "percent-width": "{{ '%999999999d' % 1 }}",
    "batch-fill": "{{ [1]|batch(10**9, 'x')|list|length }}",
    "join-range": "{{ range(100000)|join('x' * 1000) }}",
    # A width given by position was counted as 1 space: 10^10 characters were then built.
    "indent-width": "{{ ('x\\n' * 1000000)|indent(10000) }}",
    "replace-empty": "{% set s = 'y' * 1000000 %}{{ s|replace('', s) }}",
    "output-loop": "{% for a in range(100000) %}{% for b in range(1000) %}xxxxxxxxxx"
    "{% endfor %}{% endfor %}",
}
MESSAGES = [{"role": "user", "content": "Hello"}]
RUN_SECONDS = 25.0  # `gguf-tui run` on a hostile template: start, refuse, exit
RUN_MIB = 600


def plain(message: str) -> bool:
    text = message.strip()
    return "Traceback" not in text and "\n" not in text and 10 < len(text) < 400


def renderer(template: str):
    return make_renderer(
        ChatFormatChoice(GGUF_TEMPLATE_NAME, TEMPLATE),
        {"tokenizer.chat_template": template},
        "<s>",
        "</s>",
    )


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# -- the render limits ------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_template_stops_within_its_limits(name):
    before = _rss_mib()
    began = time.monotonic()
    with pytest.raises(ChatFormatError) as caught:
        renderer(HOSTILE[name])(MESSAGES)
    took = time.monotonic() - began
    assert took < RENDER_SECONDS + 2.5, took
    assert _rss_mib() - before < 1200
    message = str(caught.value)
    assert plain(message) and "--chat-format" in message, message
    assert "limit" in message or "stopped" in message, message


def test_a_template_within_the_limits_renders_exactly_as_before():
    from llama_cpp import llama_chat_format as lcf

    template = _tokenizer()[3]  # SmolLM2's own
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi <b>there</b> {{ not code }}"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "x" * 100_000},
    ]
    extra = (
        "{{ messages|tojson }}{{ 'ab'|center(9) }}{{ '%5d' % 3 }}{{ 'a' ~ 'b' }}"
        "{{ lipsum(2, html=False)|length > 0 }}{{ range(3)|join(',') }}{{ 'x' * 3 }}"
        "{% generation %}g{% endgeneration %}{{ 'A b'|replace(' ', '_')|indent(2) }}"
    )
    for t in (template, template + extra):
        ours = renderer(t)(conversation)
        theirs = lcf.Jinja2ChatFormatter(template=t, eos_token="</s>", bos_token="<s>")(
            messages=conversation
        )
        if "lipsum" not in t:
            assert ours.text == theirs.prompt
        assert ours.stop == tuple(theirs.stop) and ours.added_special == theirs.added_special


def test_cancel_stops_a_render_at_once():
    flag = threading.Event()
    threading.Timer(0.3, flag.set).start()
    began = time.monotonic()
    with pytest.raises(RenderCancelled):
        check_template({"tokenizer.chat_template": NESTED}, cancelled=flag.is_set)
    assert time.monotonic() - began < 1.5


def test_escape_cancels_the_load_of_a_model_with_a_looping_template(tmp_path):
    path = template_model(tmp_path / "loop.gguf", NESTED)
    asked = threading.Event()

    def progress(_fraction: float) -> bool:
        asked.set()
        return False  # the user pressed escape at once

    with Engine() as engine:
        began = time.monotonic()
        with pytest.raises(LoadCancelled):
            engine.load(path, LoadOptions(n_ctx=512), progress).result(30)
        assert time.monotonic() - began < 2.0 and asked.is_set()
        with pytest.raises(EngineError, match="ran for more than"):
            engine.load(path, LoadOptions(n_ctx=512)).result(30)


def test_stop_cancels_a_render_during_an_answer(tmp_path):
    # Fine for one message (the load check), loops from the second on.
    later = (
        "{% if messages|length > 1 %}" + NESTED + "{% endif %}"
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    )
    path = template_model(tmp_path / "later.gguf", later)
    turns = [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]
    with Engine() as engine:
        engine.load(path, LoadOptions(n_ctx=512)).result(30)
        gen = engine.chat(turns, Sampling(max_tokens=2))
        time.sleep(0.3)  # let the render start (the stop below must interrupt it)
        began = time.monotonic()
        engine.stop()
        result = gen.result(10)
        assert time.monotonic() - began < 1.5
        assert isinstance(result, Finished) and result.reason == "stopped", result


@pytest.mark.parametrize("name", ["multiply", "lipsum", "nested-loop"])
def test_run_refuses_a_hostile_template_in_one_line(tmp_path, name):
    path = template_model(tmp_path / f"{name}.gguf", HOSTILE[name])
    m = run_measured("run", path, "hi", "--data-dir", tmp_path / "data", timeout=RUN_SECONDS + 10)
    assert m.rc == 2, (m.rc, m.stderr[-1500:])
    assert m.wall < RUN_SECONDS and m.peak_mib < RUN_MIB, (m.wall, m.peak_mib)
    lines = m.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gguf-tui: error:") and plain(lines[0]), lines


def test_an_empty_rendered_prompt_is_a_reason(tmp_path):
    path = template_model(tmp_path / "empty.gguf", "{% if false %}x{% endif %}")
    m = run_measured(
        "run", path, "hi", "--n-ctx", "512", "--data-dir", tmp_path / "data", timeout=60
    )
    assert m.rc == 2, m.stderr
    assert "empty prompt" in m.stderr and "unexpected" not in m.stderr, m.stderr
    assert len(m.stderr.strip().splitlines()) == 1


# -- context length and threads ---------------------------------------------------------------
@pytest.mark.parametrize("claimed", [0xFFFFFFFF, 2**31 - 1])
@pytest.mark.parametrize("n_ctx", ["0", "4096"])
def test_an_unbelievable_training_context_is_ignored(tmp_path, claimed, n_ctx):
    path = write_tiny(tmp_path / "ctx.gguf", **{"llama.context_length": claimed})
    m = run_measured(
        "run", path, "hi", "--n-ctx", n_ctx, "--max-tokens", "4", "--data-dir", tmp_path / "d"
    )
    assert m.rc == 0, m.stderr[-2000:]
    assert f"training context of {claimed:,} tokens" in m.stderr and "using 4,096" in m.stderr
    assert m.peak_mib < 300 and m.wall < 30, (m.peak_mib, m.wall)


def test_thread_counts_are_bounded_by_the_machine(tmp_path):
    most = THREADS_PER_CORE * usable_cores()
    assert bounded_threads(100_000)[0] == most and "at most" in bounded_threads(100_000)[1]
    assert bounded_threads(1) == (1, "") and bounded_threads(None) == (None, "")
    assert bounded_threads(0)[0] is None and bounded_threads(-5)[1]
    path = write_tiny(tmp_path / "tiny.gguf")
    m = run_measured(
        "run", path, "hi", "--threads", "100000", "--max-tokens", "4", "--data-dir", tmp_path / "d"
    )
    assert m.rc == 0, m.stderr[-2000:]
    assert f"using {most}" in m.stderr and m.wall < 30
    with Engine() as engine:
        info = engine.load(path, LoadOptions(n_ctx=512, n_threads=4096)).result(30)
        assert info.n_threads == most and any("at most" in n for n in info.notes)
        result = engine.chat(MESSAGES, Sampling(max_tokens=2)).result(30)
        assert not isinstance(result, Failed)


def test_bench_exits_1_when_any_model_failed(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    write_tiny(folder / "good.gguf")
    template_model(folder / "looping.gguf", HOSTILE["multiply"])
    (folder / "text.gguf").write_text("not a model\n")
    quick = ("--repeat", "1", "--gen-tokens", "4", "--prompt-tokens", "16", "--no-warmup")
    m = run_measured("bench", folder, *quick, "--data-dir", tmp_path / "d", timeout=120)
    assert m.rc == 1, (m.rc, m.stdout[-1500:], m.stderr[-1500:])
    assert "Traceback" not in m.stdout + m.stderr
    assert "limit" in m.stdout and "not a GGUF model" in m.stdout, m.stdout
    ok = run_measured("bench", folder / "good.gguf", *quick, "--data-dir", tmp_path / "d")
    assert ok.rc == 0, ok.stderr[-1500:]
