"""The local model catalog: every GGUF in the model folders and the Hugging Face cache.

`scan()` lists each model once: a split model as its first shard with the shard count
(a missing shard marks it incomplete, it is not hidden), a broken file with the reason.
Headers are read through the scan cache, so an unchanged tree is scanned with `stat`s only.
`scan_configured()` is the one scan of the configured places (model folders, the cache,
the folders of models opened by path) that the picker, `f3` and `gguf-tui list` share.
`group_siblings()` gathers the quantizations of one model for switching between them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gguf_tui.models.gguf_file import SHARD_RE, HeaderCancelled, listed, shard_problem
from gguf_tui.models.hub.cache import all_cached_ggufs
from gguf_tui.models.quant import model_base_name, quant_name
from gguf_tui.models.scan_cache import FileSummary, ScanCache
from gguf_tui.models.units import format_params

MAX_DEPTH = 8  # folders below a model folder that are still searched
_LISTED_MISSING = 8  # more missing shards than this are summed up in `error`
_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages"}


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()  # `hf_cache=DEFAULT`: the cache huggingface_hub would use now


@dataclass(slots=True)
class ModelFile:
    """One model on disk (all shards of a split model), as the picker lists it."""

    path: Path  # the first shard: what llama.cpp is given
    display_name: str  # the file name without quantization, shard suffix or extension
    architecture: str | None
    size_label: str  # "135M", "7B": general.size_label, else from the parameter count
    n_params: int
    quant: str  # "Q4_K_M"; "unknown" when neither metadata nor name says
    bits_per_weight: float | None  # tensor data bytes × 8 / parameters, measured
    file_size: int  # every shard present, summed
    n_shards: int
    context_length: int | None  # the training context
    has_chat_template: bool
    repo_id: str | None = None  # set for files in the Hugging Face cache
    incomplete: bool = False
    missing_shards: list[str] = field(default_factory=list)
    error: str | None = None  # why the file cannot be used, in plain words
    mtime: float = 0.0
    family: str = ""  # models with the same family are quantizations of one model
    model_name: str | None = None  # general.name, as the converter wrote it
    kv_bytes_per_token: int | None = None  # for memory.estimate_memory

    @property
    def usable(self) -> bool:
        return self.error is None and not self.incomplete

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass(slots=True)
class ScanStats:
    files: int = 0  # .gguf files looked at
    headers_read: int = 0  # of those, headers actually parsed (cache misses)
    cache_hits: int = 0
    seconds: float = 0.0


# Why a folder is searched: what the picker's Local view lists when it finds nothing.
OWN_FOLDER = "the app's models folder"
CONFIGURED = "model_dirs in config.toml"
COMMAND_LINE = "--models-dir"
HF_CACHE = "the Hugging Face cache"
BESIDE = "the folder of the model in use"


@dataclass(frozen=True, slots=True)
class Place:
    """One place models are looked for, and why it is looked in."""

    path: Path
    why: str  # OWN_FOLDER, CONFIGURED, COMMAND_LINE, HF_CACHE or BESIDE

    @property
    def is_folder(self) -> bool:
        """A model folder, searched with its subfolders (not the cache, not a BESIDE one)."""
        return self.why not in (HF_CACHE, BESIDE)


@dataclass(slots=True)
class Catalog:
    """What a scan of the configured places found, and where it looked."""

    models: list[ModelFile]
    places: list[Place]


def _expanded(folder: str | Path) -> Path:
    return Path(os.path.expandvars(str(folder))).expanduser()


def configured_places(
    models_dir: Path,
    model_dirs: Iterable[str] = (),
    extra: Iterable[str] = (),
    *,
    hf_cache: Path | None = DEFAULT,
    beside: Iterable[Path] = (),
) -> list[Place]:
    """Where to look, in order and each folder once: the app's own folder, `model_dirs`
    from the settings, `--models-dir` ones, the Hugging Face cache (`hf_cache=None`
    leaves it out; the default is the one huggingface_hub uses now), then the folders
    of models opened by path (their files only, for the siblings of such a model)."""
    places: list[Place] = []
    wanted: list[tuple[str | Path, str]] = [
        (models_dir, OWN_FOLDER),
        *((d, CONFIGURED) for d in model_dirs),
        *((d, COMMAND_LINE) for d in extra),
    ]
    for folder, why in wanted:
        path = _expanded(folder)
        if all(p.path != path for p in places):
            places.append(Place(path, why))
    if hf_cache is DEFAULT:
        from gguf_tui.models.hub.client import HubEnv

        hf_cache = HubEnv.from_environ().cache_dir
    if hf_cache is not None:
        places.append(Place(Path(hf_cache), HF_CACHE))
    for folder in beside:
        path = _expanded(folder)
        if all(p.path != path for p in places if p.is_folder or p.why == BESIDE):
            places.append(Place(path, BESIDE))
    return places


def default_dirs(
    models_dir: Path, model_dirs: Iterable[str] = (), extra: Iterable[str] = ()
) -> list[Path]:
    """The app's own folder, then `model_dirs` from the settings, then `--models-dir` ones."""
    return [p.path for p in configured_places(models_dir, model_dirs, extra, hf_cache=None)]


def scan_configured(
    models_dir: Path,
    model_dirs: Iterable[str] = (),
    extra: Iterable[str] = (),
    *,
    hf_cache: Path | None = DEFAULT,
    beside: Iterable[Path] = (),
    cache_file: Path | None = None,
    stats: ScanStats | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Catalog:
    """Every model in the configured places (`configured_places`), and those places:
    the one scan the picker, the `f3` switcher and `gguf-tui list` share."""
    places = configured_places(models_dir, model_dirs, extra, hf_cache=hf_cache, beside=beside)
    cache = next((p.path for p in places if p.why == HF_CACHE), None)
    models = scan(
        [p.path for p in places if p.is_folder],
        hf_cache=cache,
        cache_file=cache_file,
        stats=stats,
        beside=[p.path for p in places if p.why == BESIDE],
        cancelled=cancelled,
    )
    return Catalog(models, places)


def scan(
    dirs: Sequence[Path],
    *,
    hf_cache: Path | None = DEFAULT,
    cache_file: Path | None = None,
    stats: ScanStats | None = None,
    beside: Sequence[Path] = (),
    cancelled: Callable[[], bool] | None = None,
) -> list[ModelFile]:
    """Every model in `dirs` (recursively) and in the Hugging Face cache, sorted by name.

    `beside` are folders searched without their subfolders: those of models opened by
    path, whose siblings (other quantizations in the same folder) must be found even
    when the folder is no model folder (`~/Downloads`, a home directory).
    `hf_cache=None` leaves the Hugging Face cache out; the default is the folder
    huggingface_hub uses (HF_HUB_CACHE / HF_HOME, read now). Never raises for a bad file.
    `cancelled()` is asked between files and while a header is walked: once it turns true
    the scan ends within milliseconds with what it has (a TUI quitting never waits).
    """
    started = time.perf_counter()
    if hf_cache is DEFAULT:
        from gguf_tui.models.hub.client import HubEnv

        hf_cache = HubEnv.from_environ().cache_dir
    cache = ScanCache(cache_file)
    found: list[tuple[Path, str | None]] = []
    seen: set[str] = set()
    sources: list[Iterable[tuple[Path, str | None]]] = []
    if hf_cache is not None:
        sources.append((f.path, f.repo_id) for f in all_cached_ggufs(Path(hf_cache)))
    sources.extend(((p, None) for p in walk_ggufs(d)) for d in dirs)
    sources.extend(((p, None) for p in walk_ggufs(d, max_depth=0)) for d in beside)
    for source in sources:
        for path, repo_id in source:
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                found.append((path, repo_id))
    summaries = []
    try:
        for p, r in found:
            if cancelled is not None and cancelled():
                break
            if (s := cache.summary(p, cancelled)) is not None:
                summaries.append((p, r, s))
    except HeaderCancelled:
        pass  # what was read so far is listed (and cached); the rest is left for next time
    models = _assemble(summaries)
    cache.save()
    if stats is not None:
        stats.files = len(found)
        stats.headers_read = cache.misses
        stats.cache_hits = cache.hits
        stats.seconds = time.perf_counter() - started
    return sorted(
        models, key=lambda m: (m.display_name.lower(), m.bits_per_weight or 99, str(m.path))
    )


def walk_ggufs(root: Path, max_depth: int = MAX_DEPTH) -> Iterator[Path]:
    """.gguf files under `root`, skipping hidden folders, symlink loops and deep trees.

    A folder named `*.gguf` is yielded too (it is listed as broken, with the reason,
    and still searched), as are links that lead nowhere: nothing a user might have
    meant as a model is left out of `list` without a word."""
    root = Path(root).expanduser()
    if root.is_file():
        if root.name.lower().endswith(".gguf"):
            yield root
        return
    visited: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        depth = len(Path(dirpath).relative_to(root).parts)
        if real in visited or depth > max_depth:
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in dirnames:
            if name.lower().endswith(".gguf"):
                yield Path(dirpath) / name
        for name in sorted(filenames):
            if name.lower().endswith(".gguf") and not name.startswith("."):
                yield Path(dirpath) / name


def _assemble(summaries: list[tuple[Path, str | None, FileSummary]]) -> list[ModelFile]:
    singles: list[ModelFile] = []
    splits: dict[tuple[str, str, int], dict[int, tuple[Path, str | None, FileSummary]]] = {}
    for path, repo_id, summary in summaries:
        m = SHARD_RE.match(path.name)
        if m is None or (problem := shard_problem(path)):
            if m is not None:  # `-00001-of-00000`: listed as broken, never as ready
                summary = FileSummary(summary.size, summary.mtime_ns, error=problem)
            singles.append(_model(path, repo_id, {1: (path, summary)}, 1))
            continue
        key = (str(path.parent), m["base"], int(m["count"]))
        splits.setdefault(key, {})[int(m["no"])] = (path, repo_id, summary)
    for (parent, base, count), members in splits.items():
        repo_id = next(iter(members.values()))[1]
        shards = {no: (p, s) for no, (p, _, s) in members.items()}
        first = Path(parent) / f"{base}-{1:05d}-of-{count:05d}.gguf"
        singles.append(_model(shards.get(1, (first, None))[0], repo_id, shards, count))
    return singles


def _model(
    path: Path,
    repo_id: str | None,
    shards: dict[int, tuple[Path, FileSummary]],
    count: int,
) -> ModelFile:
    first = shards[1][1] if 1 in shards else None
    missing = [_shard_name(path.name, no, count) for no in range(1, count + 1) if no not in shards]
    present = [s for _, s in (shards[k] for k in sorted(shards))]
    errors = [
        s.error if no == 1 else f"shard {no}: {s.error}"
        for no, (_, s) in sorted(shards.items())
        if s.error
    ]
    if len(missing) > _LISTED_MISSING:  # `-of-99999`: one line, not 99,998 names
        errors.append(f"{len(missing):,} of its {count:,} shards are missing: {listed(missing)}")
        missing = missing[:_LISTED_MISSING]
    n_params = sum(s.n_params for s in present)
    tensor_bytes = sum(s.tensor_bytes for s in present)
    display = model_base_name(path.name)
    label = (first.size_label if first else None) or (format_params(n_params) if n_params else "?")
    return ModelFile(
        path=path,
        display_name=display,
        architecture=first.architecture if first else None,
        size_label=label,
        n_params=n_params,
        quant=quant_name(first.file_type if first else None, path.name),
        bits_per_weight=tensor_bytes * 8 / n_params if n_params and not errors else None,
        file_size=sum(s.size for s in present),
        n_shards=count,
        context_length=first.context_length if first else None,
        has_chat_template=bool(first and first.has_chat_template),
        repo_id=repo_id,
        incomplete=bool(missing),
        missing_shards=missing,
        error=errors[0] if errors else None,
        mtime=max(s.mtime_ns for s in present) / 1e9 if present else 0.0,
        family=_family(path, repo_id, display),
        model_name=first.name if first else None,
        kv_bytes_per_token=first.kv_bytes_per_token if first else None,
    )


def _shard_name(first_name: str, no: int, count: int) -> str:
    return re.sub(r"-\d{5}-of-(\d{5})\.gguf$", f"-{no:05d}-of-\\1.gguf", first_name, flags=re.I)


def _family(path: Path, repo_id: str | None, display: str) -> str:
    """Same repository (or same folder) and same name without the quantization."""
    where = f"hf:{repo_id}" if repo_id else str(path.parent)
    return f"{where}::{display.lower()}"


def group_siblings(models: Iterable[ModelFile]) -> dict[str, list[ModelFile]]:
    """Usable models by family, each list sorted by bits per weight (smallest first)."""
    groups: dict[str, list[ModelFile]] = {}
    for m in models:
        if m.usable:
            groups.setdefault(m.family, []).append(m)
    for members in groups.values():
        members.sort(key=lambda m: (m.bits_per_weight or 99.0, m.file_size))
    return groups


def siblings_of(model: ModelFile, models: Iterable[ModelFile]) -> list[ModelFile]:
    """The usable quantizations of `model`'s family (itself included), smallest first."""
    return group_siblings(m for m in models if m.family == model.family).get(model.family, [])
