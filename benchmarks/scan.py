"""Scan 200 GGUF files with no scan cache (cold) and again with it (warm).

    python -m benchmarks.scan [--files 200] [--repeat 5]

Cold: `models.catalog.scan` with a fresh cache file, so every header is parsed.
Warm: the same tree with the cache that cold scan wrote: `stat` calls only.
The reference is the cold scan of the same run; the figure is warm/cold.
Files are small but real GGUFs (written with the `gguf` package) with names and
file types of 20 model families × 10 quantizations and, by default, a 32k-token
vocabulary each, since the tokenizer arrays are what makes a real header slow.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, machine_line, median, save, spread

FAMILIES = [
    f"{n}-{s}"
    for n in ("Qwen2.5", "Llama-3.2", "gemma-3", "Phi-4", "Mistral")
    for s in ("0.5B", "1B", "3B", "7B")
]
QUANTS = {
    "Q8_0": 7,
    "Q6_K": 18,
    "Q5_K_M": 17,
    "Q5_K_S": 16,
    "Q4_K_M": 15,
    "Q4_K_S": 14,
    "IQ4_NL": 25,
    "Q3_K_M": 12,
    "Q3_K_S": 11,
    "Q2_K": 10,
}


def write_gguf(path: Path, vocab: int, **metadata: str | int) -> None:
    """A one-tensor GGUF whose header is as heavy as a real one's: a `vocab`-token
    tokenizer array (a real header's bulk: 32k-262k strings)."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(path, "llama")
    for key, value in metadata.items():
        if isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_uint32(key, value)
    if vocab:
        writer.add_tokenizer_model("gpt2")
        writer.add_token_list([f"tok{i}" for i in range(vocab)])
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def make_tree(root: Path, n_files: int, vocab: int) -> list[Path]:
    paths = []
    for i in range(n_files):
        family = FAMILIES[i // len(QUANTS) % len(FAMILIES)]
        quant, ftype = list(QUANTS.items())[i % len(QUANTS)]
        folder = root / family
        folder.mkdir(parents=True, exist_ok=True)
        suffix = f"-v{i // (len(QUANTS) * len(FAMILIES))}" if i >= 200 else ""
        path = folder / f"{family}-Instruct{suffix}-{quant}.gguf"
        write_gguf(
            path,
            vocab,
            **{
                "general.name": f"{family} Instruct",
                "general.file_type": ftype,
                "llama.context_length": 32768,
                "general.size_label": family.split("-")[-1],
            },
        )
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--vocab", type=int, default=32000, help="tokens per header (0: none)")
    args = parser.parse_args()
    from gguf_tui.models.catalog import ScanStats, scan

    info = machine()
    print(machine_line(info))
    with tempfile.TemporaryDirectory(prefix="gguf-scan-bench-") as tmp:
        root = Path(tmp) / "models"
        make_tree(root, args.files, args.vocab)
        cold, warm, found = [], [], 0
        for n in range(args.repeat):  # interleaved: cold, warm, cold, warm …
            cache = Path(tmp) / f"cache-{n}.json"
            stats = ScanStats()
            started = time.perf_counter()
            models = scan([root], hf_cache=None, cache_file=cache, stats=stats)
            cold.append(time.perf_counter() - started)
            assert stats.headers_read == args.files, stats
            found = len(models)
            stats = ScanStats()
            started = time.perf_counter()
            scan([root], hf_cache=None, cache_file=cache, stats=stats)
            warm.append(time.perf_counter() - started)
            assert stats.headers_read == 0 and stats.cache_hits == args.files, stats
    c, w = median(cold), median(warm)
    print(
        f"{args.files} files ({found} models listed), {args.vocab}-token vocabularies, "
        f"{args.repeat} runs each, medians:"
    )
    print(f"  cold (no cache) {c * 1000:8.1f} ms  ({c / args.files * 1000:.2f} ms a file)")
    print(f"  warm (cached)   {w * 1000:8.1f} ms  ({w / args.files * 1000:.3f} ms a file)")
    print(f"  warm / cold     {w / c:8.3f}   (cold is {c / w:.1f}× slower)")
    save(
        "scan",
        {
            "machine": info,
            "files": args.files,
            "models": found,
            "cold_seconds": spread(cold),
            "warm_seconds": spread(warm),
            "warm_over_cold": w / c,
        },
    )


if __name__ == "__main__":
    main()
