"""Give the terminal back even when the app dies by a signal.

Textual restores the terminal on every way out that runs Python: an exception, quit,
Ctrl+C. A signal death runs nothing (a crash inside llama.cpp or libgomp, the OOM killer,
`kill -9`): the shell is left in the alternate screen with mouse reporting on and the
keyboard in raw mode. `faulthandler` can print a traceback on SIGSEGV but cannot run code
to undo the terminal modes, and nothing runs at all after SIGKILL.

So the app runs as the child of a tiny watchdog: `watch_terminal()` forks before anything
heavy starts (no threads yet, a few MiB), the parent only waits, and when the child died
by a signal it puts the terminal back (the terminal modes saved before the fork, then the
escape sequences that leave the alternate screen and switch mouse reporting, bracketed
paste, focus events and the kitty keyboard protocol off, and show the cursor), says what
happened in one line, and exits with 128 + the signal number, as a shell would report it.
The child dies with the parent (PR_SET_PDEATHSIG), so killing the parent still ends the app.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

# The terminal modes Textual switches on, switched off (and the cursor shown).
RESET = (
    b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l"  # mouse reporting
    b"\x1b[?2004l"  # bracketed paste
    b"\x1b[?1004l"  # focus events
    b"\x1b[<u"  # the kitty keyboard protocol (a no-op where it was never pushed)
    b"\x1b[?1049l"  # the alternate screen
    b"\x1b[?25h"  # the cursor
    b"\x1b[0m\r\n"
)
ENV_OFF = "GGUF_TUI_NO_WATCHDOG"  # set (to anything) to run the app without it
_ENV_WATCHED = "GGUF_TUI_WATCHED"  # set in the child: a second call (or a re-exec) is a no-op
_PR_SET_PDEATHSIG = 1


def _tty_fd() -> int | None:
    for stream in (sys.__stderr__, sys.__stdout__, sys.__stdin__):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            if stream is not None and stream.isatty():
                return stream.fileno()
    return None


def watch_terminal() -> None:
    """Fork the watchdog (the caller continues as the child, which runs the app).

    Does nothing without a terminal, without fork, or with GGUF_TUI_NO_WATCHDOG set.
    Call it before any thread starts: a fork copies only the calling thread."""
    fd = _tty_fd()
    if fd is None or not hasattr(os, "fork") or os.environ.get(ENV_OFF):
        return
    if os.environ.get(_ENV_WATCHED) == str(os.getppid()):
        return  # already the watched child
    saved = None
    with contextlib.suppress(ImportError, OSError):
        import termios

        saved = termios.tcgetattr(fd)
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid == 0:
        os.environ[_ENV_WATCHED] = str(parent)
        _die_with(parent)
        return
    _watch(pid, fd, saved)


def _die_with(parent: int) -> None:
    """In the child: end with the watchdog, so `kill -9` of it still ends the app."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the watchdog died before prctl took effect
        os._exit(1)


def _watch(child: int, fd: int, saved: list | None) -> None:
    """In the parent: wait, forward a termination request, repair after a signal death."""

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    # The terminal sends ^C and ^\ to the whole process group, the child too: the watchdog
    # itself ignores them. A hang-up (the terminal closed) may reach only the watchdog, the
    # session's leader, and a `kill` of it must reach the app: both are passed on (the app
    # quits, saving; see commands/app.py).
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:  # pragma: no cover (PEP 475 retries)
            continue
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        restore(fd, saved)
        name = _signal_name(signum)
        with contextlib.suppress(OSError):
            os.write(
                2,
                f"gguf-tui: error: the app was ended by {name}; the terminal was restored "
                "(see docs/troubleshooting.md)\n".encode(),
            )
        os._exit(128 + signum)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def restore(fd: int, saved: list | None) -> None:
    """The terminal as it was before the app: its modes, then the escape sequences."""
    if saved is not None:
        with contextlib.suppress(ImportError, OSError):
            import termios

            termios.tcsetattr(fd, termios.TCSANOW, saved)
    with contextlib.suppress(OSError):
        os.write(fd, RESET)


def _signal_name(signum: int) -> str:
    try:
        sig = signal.Signals(signum)
    except ValueError:
        return f"signal {signum}"
    what = signal.strsignal(sig) or ""
    return f"{sig.name} ({what.lower()})" if what else sig.name
