"""Logging: everything to a log file; the terminal gets only what the user asked for.

The log is capped: it rotates at 5 MB and keeps two old files (`gguf-tui.log.1`, `.2`),
15 MB at most however many models are loaded (llama.cpp writes ~300 KB per load).

A log that cannot be written (a full disk, a read-only data folder, a log path that is a
FIFO or a device) is silently not written: logging never stops a command. In particular a
handler's error report must not print: while a model loads, sys.stderr is llama_log's
StreamToLog, so a report printed there is logged again, fails again, and so on until
"maximum recursion depth exceeded" ends the load.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import stat
import sys
from pathlib import Path

LOG_MAX_BYTES = 5_000_000
LOG_BACKUPS = 2


class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file whose write errors are dropped, never reported on stderr."""

    failures = 0

    def handleError(self, record: logging.LogRecord) -> None:
        self.failures += 1


def _regular_or_missing(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def setup_logging(log_file: Path | None, verbose: bool = False) -> None:
    logging.raiseExceptions = False  # no handler prints a traceback when its stream fails
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        with contextlib.suppress(Exception):
            handler.close()
    if log_file is not None and _regular_or_missing(log_file):
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = QuietRotatingFileHandler(
                log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
            )
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
            handler.setLevel(logging.DEBUG)
            root.addHandler(handler)
        except OSError:
            pass  # a read-only data folder must not stop the app; nothing is logged
    if verbose:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(message)s"))
        console.setLevel(logging.INFO)
        root.addHandler(console)
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    # Quiet third-party chatter in the file unless asked.
    for noisy in ("httpx", "httpcore", "urllib3", "asyncio", "markdown_it"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
