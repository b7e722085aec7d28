"""Logging: everything to a log file; the terminal gets only what the user asked for."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path


def setup_logging(log_file: Path | None, verbose: bool = False) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=5_000_000, backupCount=2, encoding="utf-8"
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
