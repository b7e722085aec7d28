"""The AMX work-around: repacking is off exactly where llama.cpp crashes with it."""

from __future__ import annotations

from gguf_tui.engine.local.cpu_quirks import ENV, repack_is_safe

AMX = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | OPENMP = 1 | REPACK = 1 |"
AVX2 = "CPU : SSE3 = 1 | AVX2 = 1 | OPENMP = 1 | REPACK = 1 |"


def test_amx_cpus_load_without_repacking():
    assert repack_is_safe(AMX, env={}) is False
    assert repack_is_safe(AVX2, env={}) is True


def test_the_environment_overrides_the_guess():
    assert repack_is_safe(AMX, env={ENV: "1"}) is True
    assert repack_is_safe(AVX2, env={ENV: "off"}) is False
    assert repack_is_safe(AVX2, env={ENV: "maybe"}) is True
