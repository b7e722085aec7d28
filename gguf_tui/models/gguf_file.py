"""Read a GGUF file's header without parsing its vocabulary.

`gguf.GGUFReader` builds numpy arrays for every metadata array (the whole
vocabulary, merges, scores) and maps every tensor: seconds for a 262k-token
vocabulary. A catalog only needs a few scalars, the length of the token list,
and the tensor shapes, so this reader walks the header with `struct` and skips
array bodies, keeping only small string arrays.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAGIC = b"GGUF"
SHARD_RE = re.compile(r"^(?P<base>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)

# GGUF value types -> struct format (fixed-size ones).
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9
_KEEP_ARRAY_ITEMS = 64  # small arrays (e.g. chat template names) are kept whole

# ggml tensor types -> (elements per block, bytes per block), from ggml.h.
GGML_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 40),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
    40: (64, 36),
    41: (128, 18),
}
# Maximum sizes we accept before calling a file hostile rather than big (docs/troubleshooting.md,
# "Hostile model files and settings"). Every bound is far above any real model: the largest
# vocabularies have 262,144 tokens, the longest chat templates a few tens of KiB.
_MAX_STRING = 64 * 1024 * 1024  # one metadata string
MAX_KEPT_STRING = 1024 * 1024  # longer strings are stepped over, not read (see `skipped`)
_MAX_COUNT = 1 << 34  # items of a numeric array (their bytes must be in the file as well)
MAX_STRING_ITEMS = 1 << 22  # items of a string array (4,194,304)
MAX_TOKENS = 1 << 21  # the vocabulary (2,097,152 tokens)
PARSE_SECONDS = 5.0  # the whole header: a 262k vocabulary takes well under 0.2 s
_CHECK_EVERY = 1 << 14  # items between two looks at the clock
_MAX_KEY = 4096  # bytes of a tensor name (ggml refuses 64 and more; read no further)
# ggml's own limits (GGML_MAX_DIMS, GGML_MAX_NAME): beyond them llama.cpp refuses the file.
MAX_DIMS = 4
MAX_NAME = 64
_TOKENS = "tokenizer.ggml.tokens"


class GGUFError(Exception):
    """The file is not a usable GGUF; the message says why in plain words."""


class HeaderCancelled(GGUFError):
    """The caller gave up on the header (the app is closing): says nothing about the file."""


def shown(text: str, limit: int = 60) -> str:
    """A name read from a file, safe to put in a one-line message: control characters
    escaped (a corrupt header yields binary garbage), at most `limit` characters."""
    safe = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[: limit + 1])
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


@dataclass(slots=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def n_bytes(self) -> int | None:
        size = GGML_TYPE_SIZES.get(self.ggml_type)
        if size is None:
            return None
        block, nbytes = size
        return self.n_elements // block * nbytes


@dataclass(slots=True)
class GGUFHeader:
    """What the header of one GGUF file (one shard) says."""

    path: Path
    version: int
    metadata: dict[str, Any]
    array_lengths: dict[str, int]  # every array key -> its length (bodies skipped)
    # Keys left out of `metadata` because their text is over MAX_KEPT_STRING -> bytes.
    skipped: dict[str, int] = field(default_factory=dict)
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0
    file_size: int = 0
    alignment: int = 32  # of the tensor data (general.alignment)

    @property
    def n_params(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def data_end(self) -> int | None:
        """Where the last tensor's data ends, if every type is known."""
        end = self.data_offset
        for t in self.tensors:
            nbytes = t.n_bytes
            if nbytes is None:
                return None
            end = max(end, self.data_offset + t.offset + nbytes)
        return end

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)


class _Cursor:
    """Bounds-checked reads from a buffer: a hostile length must fail cleanly."""

    def __init__(
        self,
        buf: Any,
        size: int,
        seconds: float | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        self.buf = buf
        self.size = size
        self.pos = 0
        self.deadline = time.monotonic() + seconds if seconds is not None else None
        self.cancelled = cancelled

    def tick(self) -> None:
        """Give up on a header that takes too long to walk (a sparse file that declares
        billions of items passes every size check but would take hours)."""
        if self.cancelled is not None and self.cancelled():
            raise HeaderCancelled("not read: the scan was cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise GGUFError(
                f"reading the header took more than {PARSE_SECONDS:g} s (at byte {self.pos:,}): "
                "it declares far more entries than any model has"
            )

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise GGUFError("the file ends in the middle of its header (truncated?)")

    def unpack(self, fmt: str) -> Any:
        n = struct.calcsize("<" + fmt)
        self.need(n)
        value = struct.unpack_from("<" + fmt, self.buf, self.pos)[0]
        self.pos += n
        return value

    def string(self) -> str:
        n = self.unpack("Q")
        if n > _MAX_STRING:
            raise GGUFError(f"a metadata string claims {n:,} bytes: the header is corrupt")
        self.need(n)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def short_string(self, limit: int, what: str) -> str:
        """A key or a tensor name: its length is checked before anything is read."""
        n = self.unpack("Q")
        if n > limit:
            raise GGUFError(f"{what} of {n:,} bytes: the header is corrupt")
        self.pos -= 8
        return self.string()

    def skip_string(self) -> int:
        """Step over one string; returns its length."""
        n = self.unpack("Q")
        self.need(n)
        self.pos += n
        return n

    def skip_strings(self, count: int) -> None:
        for i in range(count):
            if not i % _CHECK_EVERY:
                self.tick()
            self.skip_string()

    def skip_tokens(self, count: int) -> None:
        """Step over the vocabulary, checking that no token appears twice: llama.cpp
        aborts the whole process on such a file (GGML_ASSERT in its vocabulary loader).

        Only hashes are kept on the first pass (a few tens of bytes a token, where the
        tokens themselves could be 64 MiB each); a second pass compares the bytes of
        the few tokens whose hashes met, so a collision is never taken for a duplicate.
        llama.cpp names an empty token `[EMPTY_i]`, so empty tokens never clash."""
        start = self.pos
        hashes: set[int] = set()
        clashes: set[int] = set()
        for i in range(count):
            if not i % _CHECK_EVERY:
                self.tick()
            at = self.pos + 8
            if self.skip_string():
                h = hash(bytes(self.buf[at : self.pos]))
                if h in hashes:
                    clashes.add(h)
                hashes.add(h)
        if not clashes:
            return
        del hashes
        end, self.pos = self.pos, start
        seen: dict[bytes, int] = {}
        for i in range(count):
            at = self.pos + 8
            if not self.skip_string():
                continue
            text = bytes(self.buf[at : self.pos])
            if hash(text) in clashes and (first := seen.setdefault(text, i)) != i:
                token = shown(text.decode("utf-8", errors="replace"))
                raise GGUFError(
                    f"the vocabulary lists the token '{token}' twice (ids {first} and {i}): "
                    "the file is corrupt"
                )
        self.pos = end


def _read_value(
    cur: _Cursor,
    vtype: int,
    key: str,
    lengths: dict[str, int],
    skipped: dict[str, int] | None = None,
) -> Any:
    if vtype in _SCALARS:
        value = cur.unpack(_SCALARS[vtype])
        if isinstance(value, float) and not math.isfinite(value):
            raise GGUFError(f"metadata key '{shown(key)}' is {value}: the header is corrupt")
        return value
    if vtype == _STRING:
        if skipped is not None:
            start = cur.pos
            n = cur.unpack("Q")
            if n > MAX_KEPT_STRING:  # kept out of memory: stepped over, its size noted
                if n > _MAX_STRING:
                    raise GGUFError(f"a metadata string claims {n:,} bytes: the header is corrupt")
                cur.need(n)
                cur.pos += n
                skipped[key] = n
                return None
            cur.pos = start
        return cur.string()
    if vtype == _ARRAY:
        itype = cur.unpack("I")
        count = cur.unpack("Q")
        if count > _MAX_COUNT:
            raise GGUFError(f"metadata array '{shown(key)}' claims {count:,} items: corrupt")
        lengths[key] = count
        if itype in _SCALARS:
            width = struct.calcsize("<" + _SCALARS[itype])
            if count <= _KEEP_ARRAY_ITEMS:
                return [cur.unpack(_SCALARS[itype]) for _ in range(count)]
            cur.need(width * count)
            cur.pos += width * count
            return None
        if itype == _STRING:
            most = MAX_TOKENS if key == _TOKENS else MAX_STRING_ITEMS
            if count > most:
                what = "tokens" if key == _TOKENS else "strings"
                raise GGUFError(
                    f"metadata array '{shown(key)}' claims {count:,} {what} "
                    f"(at most {most:,} are accepted): corrupt"
                )
            cur.need(8 * count)  # every string has at least its 8-byte length
            if key == _TOKENS:
                start = cur.pos
                cur.skip_tokens(count)
                if count > _KEEP_ARRAY_ITEMS:
                    return None
                cur.pos = start
            if count <= _KEEP_ARRAY_ITEMS:
                start = cur.pos
                cur.skip_strings(count)
                if cur.pos - start - 8 * count <= MAX_KEPT_STRING:
                    cur.pos = start
                    return [cur.string() for _ in range(count)]
                if skipped is not None:
                    skipped[key] = cur.pos - start
                return None
            cur.skip_strings(count)
            return None
        if itype == _ARRAY:
            raise GGUFError(f"metadata array '{shown(key)}' nests arrays, which GGUF forbids")
        raise GGUFError(f"metadata array '{shown(key)}' has an unknown item type {itype}")
    raise GGUFError(f"metadata key '{shown(key)}' has an unknown value type {vtype}")


def check_magic(path: Path) -> None:
    """Fail fast, with a plain reason, on a file that cannot be a GGUF model."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise GGUFError(f"{path} does not exist") from None
    except OSError as exc:
        raise GGUFError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.is_dir():
        raise GGUFError(f"{path} is a folder, not a GGUF file")
    if size == 0:
        raise GGUFError(f"{path} is empty (0 bytes)")
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise GGUFError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head[:4] != MAGIC:
        what = "a text file" if _looks_like_text(head) else f"it starts with {head[:4]!r}"
        raise GGUFError(f"{path.name} is not a GGUF model ({what}, expected 'GGUF')")


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def read_header(
    path: str | Path, *, tensors: bool = True, cancelled: Callable[[], bool] | None = None
) -> GGUFHeader:
    """Parse the header of one GGUF file; raise GGUFError with a plain reason.

    At most PARSE_SECONDS; HeaderCancelled soon after `cancelled()` turns true."""
    path = Path(path)
    check_magic(path)
    size = path.stat().st_size
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _parse(path, mm, size, tensors, cancelled)
    except OSError as exc:
        raise GGUFError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (struct.error, ValueError, OverflowError, MemoryError) as exc:
        raise GGUFError(f"{path.name} has a corrupt header ({exc})") from None
    except HeaderCancelled:
        raise
    except GGUFError as exc:
        if path.name in str(exc):
            raise
        raise GGUFError(f"{path.name}: {exc}") from None


def _parse(
    path: Path,
    buf: Any,
    size: int,
    with_tensors: bool,
    cancelled: Callable[[], bool] | None = None,
) -> GGUFHeader:
    cur = _Cursor(buf, size, PARSE_SECONDS, cancelled)
    cur.pos = 4
    version = cur.unpack("I")
    if version not in (2, 3):
        raise GGUFError(f"{path.name} is GGUF version {version}; only versions 2 and 3 are known")
    n_tensors = cur.unpack("Q")
    n_kv = cur.unpack("Q")
    if n_tensors > 1 << 24 or n_kv > 1 << 24:
        raise GGUFError(f"{path.name} claims {n_tensors:,} tensors and {n_kv:,} keys: corrupt")
    # Each key takes at least 12 bytes (its length and type), each tensor at least 24.
    cur.need(12 * n_kv + (24 * n_tensors if with_tensors else 0))
    metadata: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    types: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for i in range(n_kv):
        if not i % 256:
            cur.tick()
        key = cur.short_string(MAX_KEPT_STRING, f"{path.name} has a metadata key")
        if key in types:
            raise GGUFError(f"{path.name} lists the metadata key '{shown(key)}' twice: corrupt")
        types[key] = vtype = cur.unpack("I")
        value = _read_value(cur, vtype, key, lengths, skipped)
        if value is not None:
            metadata[key] = value
    header = GGUFHeader(path, version, metadata, lengths, skipped, file_size=size)
    if "general.alignment" in types:
        alignment = metadata["general.alignment"]
        if types["general.alignment"] != 4 or alignment <= 0 or alignment & (alignment - 1):
            raise GGUFError(f"{path.name} has general.alignment {alignment!r}: corrupt")
        header.alignment = alignment
    if not with_tensors:
        return header
    names: set[str] = set()
    for i in range(n_tensors):
        if not i % _CHECK_EVERY:
            cur.tick()
        name = cur.short_string(_MAX_KEY, f"{path.name} has a tensor name")
        if len(name.encode()) >= MAX_NAME or name in names:
            what = "a duplicate name" if name in names else "a name that is too long"
            raise GGUFError(f"{path.name} has {what} in its tensor table: '{shown(name)}'")
        names.add(name)
        n_dims = cur.unpack("I")
        if n_dims > MAX_DIMS:
            raise GGUFError(f"tensor '{shown(name)}' claims {n_dims} dimensions: corrupt")
        shape = tuple(cur.unpack("Q") for _ in range(n_dims))
        header.tensors.append(TensorInfo(name, shape, cur.unpack("I"), cur.unpack("Q")))
    header.data_offset = (cur.pos + header.alignment - 1) // header.alignment * header.alignment
    return header


def metadata_prefix(buf: bytes) -> dict[str, Any]:
    """The metadata keys found in the first bytes of a GGUF file (e.g. a ranged download).

    Stops quietly where the buffer ends: the hyperparameters come before the vocabulary
    in files written by llama.cpp's converters, so the first megabyte usually has them.
    """
    if buf[:4] != MAGIC:
        raise GGUFError("not a GGUF file (expected 'GGUF')")
    cur = _Cursor(buf, len(buf))
    cur.pos = 4
    metadata: dict[str, Any] = {}
    try:
        cur.unpack("I")  # version
        cur.unpack("Q")  # tensor count
        n_kv = cur.unpack("Q")
        for _ in range(min(n_kv, 1 << 24)):
            key = cur.string()
            value = _read_value(cur, cur.unpack("I"), key, {})
            if value is not None:
                metadata[key] = value
    except (GGUFError, struct.error):
        pass  # the buffer ended mid-header: keep what was complete
    return metadata


def shard_info(path: Path) -> tuple[str, int, int] | None:
    """(base name, shard number, shard count) for `name-0000N-of-0000M.gguf`, else None."""
    m = SHARD_RE.match(path.name)
    if not m:
        return None
    return m["base"], int(m["no"]), int(m["count"])


def shard_problem(path: Path) -> str | None:
    """Why a split-model name cannot be right (`-00001-of-00000`, `-00007-of-00003`), else None."""
    info = shard_info(path)
    if info is None:
        return None
    _, no, count = info
    if 1 <= no <= count:
        return None
    return (
        f"{shown(path.name)} is named as shard {no} of {count}, which cannot be: a split "
        "model's files end in -0000N-of-0000M.gguf with N from 1 to M (rename the file)"
    )


def listed(names: list[str], most: int = 3) -> str:
    """`a, b, c and 99,995 more`: a list of file names that fits on one line."""
    head = ", ".join(shown(n) for n in names[:most])
    rest = len(names) - most
    return f"{head} and {rest:,} more" if rest > 0 else head


def shard_paths(first: Path) -> list[Path]:
    """Every shard path a split model needs, present or not (just `[first]` if not split,
    or if the name is impossible: `shard_problem` says why)."""
    info = shard_info(first)
    if info is None or shard_problem(first):
        return [first]
    base, _, count = info
    return [first.with_name(f"{base}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
