"""Work around llama.cpp's CPU backends that crash on some machines.

On CPUs with AMX (Intel Sapphire Rapids and later), llama.cpp repacks the weights
into an "extra" AMX buffer at load, and the first multi-token batch then segfaults
in `ggml_backend_amx_mul_mat` (llama.cpp issue 20824, open without a fix; measured
with llama-cpp-python 0.3.36 on such a machine: every prompt longer than one token
killed the process). The crash takes the whole app and the user's terminal with it,
so on those CPUs the models load without extra buffer types (`use_extra_bufts`,
llama.cpp's `--no-repack`): the weights stay in their file layout and the plain
AVX-512 kernels run. `GGUF_TUI_CPU_REPACK=1` turns repacking back on (a llama.cpp
that has fixed the bug), `=0` turns it off everywhere.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

ENV = "GGUF_TUI_CPU_REPACK"
_patched = False


def repack_is_safe(system_info: str, env: dict[str, str] | None = None) -> bool:
    """Whether llama.cpp may repack weights, given its `llama_print_system_info()`."""
    choice = (os.environ if env is None else env).get(ENV, "").strip().lower()
    if choice in ("1", "on", "true", "yes"):
        return True
    if choice in ("0", "off", "false", "no"):
        return False
    return "AMX_INT8 = 1" not in system_info


def apply(lib: Any) -> bool:
    """Make every model loaded in this process (by the engine, or by llama-cpp-python
    directly, as a benchmark's reference does) skip repacking where it crashes.
    `lib` is `llama_cpp.llama_cpp`. Idempotent; returns whether repacking stays on."""
    global _patched
    info = lib.llama_print_system_info().decode("utf-8", "replace")
    safe = repack_is_safe(info)
    if safe or _patched:
        return safe
    original = lib.llama_model_default_params

    def without_repack():
        params = original()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_repack
    _patched = True
    log.info("AMX CPU: loading models without weight repacking (see engine/local/cpu_quirks.py)")
    return safe
