"""Reading and writing the small files that are not the database: history files, imports,
config.toml and state.json.

Two rules, because these paths come from users (`chat -o FILE`, `--import FILE`, a
symlinked dotfile) and may point anywhere:

- A read is bounded: only a regular file is read (a FIFO would block for ever, a link to
  /dev/zero would read until memory runs out), and only up to a stated size.
- A write never replaces what is not ours: a symlink is written through to its target (the
  link stays), and a target that is not a regular file (a device such as /dev/null, a FIFO,
  a folder) is refused. The write is atomic (a temporary file beside the target, then
  `os.replace`), keeps the target's permissions, and leaves no temporary file on failure.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

MiB = 1024 * 1024
MAX_HISTORY_BYTES = 64 * MiB  # a history file or an import (`export --all --format json`)
MAX_SETTINGS_BYTES = 1 * MiB  # config.toml, state.json


class FileError(Exception):
    """A file that is refused before it is read or written; the message says why."""


def kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def size_text(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


def read_bytes(path: str | os.PathLike, limit: int) -> bytes:
    """The whole of a regular file of at most `limit` bytes.

    FileError for anything else; OSError (FileNotFoundError included) as the system says.
    The file is opened without blocking, so a FIFO is refused instead of waited on."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileError(f"{path} is {kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise FileError(f"{path} is over {size_text(limit)}, the most that is read")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, MiB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew while being read
            raise FileError(f"{path} is over {size_text(limit)}, the most that is read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_target(path: str | os.PathLike) -> Path:
    """Where writing `path` really goes: a symlink's final target. FileError when that is
    a folder, a device, a FIFO or a socket (only a regular file, or nothing yet, is written)."""
    target = Path(os.path.realpath(path))
    try:
        st = target.stat()
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(st.st_mode):
        shown = str(path) if target == Path(path).absolute() else f"{path} (→ {target})"
        raise FileError(f"{shown} is {kind(st.st_mode)}: only a regular file is written")
    return target


def write_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Replace the regular file at `path` (through any symlink) with `data`, atomically.

    The text is complete in memory before anything is opened, so an encoding fault never
    leaves an empty file behind. Returns the path really written."""
    target = write_target(path)
    try:
        old = target.stat()
    except FileNotFoundError:
        old = None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a crashed earlier run of this pid
    fd = os.open(tmp, flags, 0o666)
    try:
        try:
            if old is not None:
                os.fchmod(fd, stat.S_IMODE(old.st_mode))
                if os.geteuid() == 0 and (old.st_uid, old.st_gid) != (0, 0):
                    with contextlib.suppress(OSError):
                        os.fchown(fd, old.st_uid, old.st_gid)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


def check_writable(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a file that could never be written: not a regular file, or
    in a folder this user may not write. Returns the real target."""
    target = write_target(path)
    where = next((p for p in target.parents if p.exists()), Path())
    if not where.is_dir():
        raise FileError(f"cannot write {path}: {where} is not a folder")
    if not os.access(where, os.W_OK):
        raise FileError(f"cannot write {path}: permission denied")
    return target
