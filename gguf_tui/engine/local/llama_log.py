"""Route llama.cpp's own log into Python logging.

llama-cpp-python's `verbose=False` silences llama.cpp by pointing file
descriptors 1 and 2 at /dev/null while a model loads, which also blanks a
full-screen app drawing on fd 2. We load with `verbose=True` instead and
install this callback, so nothing reaches the terminal and the log file gets
everything. The last error lines are kept to explain a failed load.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import threading

logger = logging.getLogger("gguf_tui.llama_cpp")

_LEVELS = {
    0: logging.CRITICAL,
    1: logging.DEBUG,
    2: logging.INFO,
    3: logging.WARNING,
    4: logging.ERROR,
}  # ggml_log_level: NONE, DEBUG, INFO, WARN, ERROR
_CONT = 5  # GGML_LOG_LEVEL_CONT: continues the previous line

_lock = threading.Lock()
_recent: collections.deque[str] = collections.deque(maxlen=20)  # recent warning/error lines
_partial: list[str] = []
_last_level = logging.INFO
_capture: list[str] | None = None
_callback = None  # the ctypes callback must outlive every call into llama.cpp


def _on_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    global _last_level
    try:
        message = text.decode("utf-8", errors="replace")
        py_level = _last_level if level == _CONT else _LEVELS.get(level, logging.DEBUG)
        _last_level = py_level
        with _lock:
            _partial.append(message)
            if not message.endswith("\n"):
                return
            line = "".join(_partial).rstrip()
            _partial.clear()
            if py_level >= logging.WARNING and line:
                _recent.append(line)
            if _capture is not None and line:
                _capture.append(line)
        if line:
            logger.log(py_level, "%s", line)
    except Exception:  # a callback from C must never raise
        pass


def install() -> None:
    """Install the callback (idempotent). Call after importing llama_cpp."""
    global _callback
    if _callback is not None:
        return
    import llama_cpp

    _callback = llama_cpp.llama_log_callback(_on_log)
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


def take_recent_errors() -> list[str]:
    """The warning and error lines logged since the last call."""
    with _lock:
        lines = list(_recent)
        _recent.clear()
    return lines


def failure_reason(lines: list[str]) -> str:
    """Why a load failed, from llama.cpp's last warning and error lines: its loader says
    it after "error loading model:"; the GGUF reader's lines name the corrupt field."""
    for line in reversed(lines):
        if "error loading model:" in line and "failed to load model from" not in line:
            return line.split("error loading model:", 1)[1].strip()
    specific = [line for line in lines if "failed to load model" not in line]
    reasons = [line.split(": ", 1)[-1].strip() for line in specific[-2:]]
    return "; ".join(r for r in reasons if r)


_writing = threading.local()


class StreamToLog:
    """A file-like object for llama-cpp-python's own `print(file=sys.stderr)` calls.

    It stands in for sys.stderr during a load, so whatever a failing log handler prints
    comes back here: a write made while this thread is already logging is dropped, so a
    full disk cannot loop into "maximum recursion depth exceeded"."""

    def __init__(self, log: logging.Logger = logger) -> None:
        self._log = log

    def write(self, text: str) -> int:
        if text.strip() and not getattr(_writing, "busy", False):
            _writing.busy = True
            try:
                self._log.debug("%s", text.rstrip())
            except Exception:  # never let a log fault end a load
                pass
            finally:
                _writing.busy = False
        return len(text)

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def capture(lines: list[str]):
    """Collect every complete log line (all levels) while the block runs."""
    global _capture
    _capture = lines
    try:
        yield lines
    finally:
        _capture = None
