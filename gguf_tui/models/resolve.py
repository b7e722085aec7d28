"""Turn what a user typed into a GGUF path on disk, downloading it if need be.

Accepted forms:
- a path: `~/models/x.gguf`
- `REPO:QUANT`: `bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M` (the quant is case-insensitive)
- `REPO/FILE_GLOB`: `'bartowski/Mistral-7B-Instruct-v0.3-GGUF/*Q4_K_M.gguf'`, the classic
  `chat.py --remote` form; the first two path parts are the repository. A glob matching
  shards of one split model gets every shard.
- the name of a local model from the catalog (`SmolLM2-135M-Instruct-Q8_0`), when the
  caller passes the scanned models; part of it (`q8_0`, `smollm q4`) when only one fits.

A Hub model already in the cache is used without asking the network (so it works
offline); otherwise the repository is listed and the files downloaded.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gguf_tui.models.catalog import ModelFile
from gguf_tui.models.hub.cache import cached_ggufs
from gguf_tui.models.hub.client import HubEnv
from gguf_tui.models.hub.download import ProgressCallback, download
from gguf_tui.models.hub.errors import HubOffline, NoMatchingFile
from gguf_tui.models.hub.listing import RemoteFile, RemoteQuant, group_files, list_repo_files

_NAME = r"[A-Za-z0-9][\w.-]*"
_QUANT_SPEC = re.compile(rf"^(?P<repo>{_NAME}/{_NAME}):(?P<quant>[\w.-]+)$")
_GLOB_SPEC = re.compile(rf"^(?P<repo>{_NAME}/{_NAME})/(?P<pattern>.+)$")


class SpecError(ValueError):
    """The text is not a usable model: not a file, not a Hub form, no such local model."""


@dataclass(frozen=True, slots=True)
class HubSpec:
    """A model on the Hub: by quantization, or by a file pattern."""

    repo_id: str
    quant: str | None = None
    pattern: str | None = None

    def __str__(self) -> str:
        return f"{self.repo_id}:{self.quant}" if self.quant else f"{self.repo_id}/{self.pattern}"


def parse_spec(spec: str, *, allow_glob: bool = True) -> Path | HubSpec | str:
    """A Path (local file), a HubSpec, or the text itself (maybe a local model's name)."""
    text = spec.strip()
    path = Path(text).expanduser()
    if path.exists() or text.startswith(("/", "./", "../", "~", "\\")) or re.match(r"^\w:\\", text):
        return path
    if m := _QUANT_SPEC.match(text):
        return HubSpec(m["repo"], quant=m["quant"])
    if allow_glob and (m := _GLOB_SPEC.match(text)):
        return HubSpec(m["repo"], pattern=m["pattern"])
    return text


def resolve_model_spec(
    spec: str,
    *,
    models: Sequence[ModelFile] | Callable[[], Sequence[ModelFile]] | None = None,
    download_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    local_dir: Path | None = None,
    allow_glob: bool = True,
    env: HubEnv | None = None,
    note: Callable[[str], None] | None = None,
) -> Path:
    """The path of the GGUF `spec` names (the first shard of a split model).

    Raises SpecError for text that names nothing, HubError for Hub failures (including
    DownloadCancelled). `models` (or a function returning them) enables local names.
    `allow_glob=False` treats `a/b/c` as a path, for arguments where that is likelier.
    A local name may be part of a model's name when only one model fits; `note` is then
    told which model was taken.
    """
    parsed = parse_spec(spec, allow_glob=allow_glob)
    if isinstance(parsed, Path):
        if not parsed.exists():
            raise SpecError(f"model file not found: {spec}")
        return parsed
    if isinstance(parsed, HubSpec):
        return resolve_hub_spec(
            parsed, progress=download_progress, cancel=cancel, local_dir=local_dir, env=env
        )
    found = _by_name(parsed, models() if callable(models) else models or [], note)
    if found is None:
        hint = " (a Hub model is REPO:QUANT, e.g. owner/name-GGUF:Q4_K_M)" if "/" in spec else ""
        raise SpecError(f"model file not found: {spec}{hint}")
    return found


def _by_name(
    name: str, models: Sequence[ModelFile], note: Callable[[str], None] | None = None
) -> Path | None:
    """The usable model `name` names: its file name or NAME-QUANT, else the one model whose
    name holds every word of `name` (`q8_0`, `smollm q4`); `note` is told which was taken.
    A name that fits several is a SpecError that lists them."""
    wanted = name.strip().lower().removesuffix(".gguf")
    usable = [m for m in models if m.error is None and not m.incomplete]

    def names(m: ModelFile) -> tuple[str, str]:
        return m.path.stem.lower(), f"{m.display_name}-{m.quant}".lower()

    exact = [m for m in usable if wanted in names(m)]
    words = wanted.split()
    partial = [m for m in usable if words and all(any(w in n for n in names(m)) for w in words)]
    hits = exact or partial
    if len(hits) > 1:
        raise SpecError(f"'{name}' matches {len(hits)} models: {_listed(hits)}; give one of them")
    if not hits:
        return None
    if not exact and note is not None:
        note(f"using {hits[0].path.name} (the only model matching '{name}')")
    return hits[0].path


def _listed(models: Sequence[ModelFile], most: int = 8) -> str:
    """File names, or full paths where two files share a name."""
    stems = [m.path.stem for m in models]
    shown = stems if len(set(stems)) == len(stems) else [str(m.path) for m in models]
    more = f" and {len(shown) - most} more" if len(shown) > most else ""
    return ", ".join(shown[:most]) + more


def resolve_hub_spec(
    spec: HubSpec,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    local_dir: Path | None = None,
    env: HubEnv | None = None,
) -> Path:
    """The cached files when they are all there (no request at all), else a download."""
    env = env or HubEnv.from_environ()
    if local_dir is None:
        cached = cached_ggufs(env.cache_dir, spec.repo_id)
        files = [RemoteFile(c.path_in_repo, 0) for c in cached]
        try:
            chosen = select(spec, files)
        except NoMatchingFile:
            chosen = None
        if chosen is not None and not chosen.missing_shards:
            paths = {c.path_in_repo: c.path for c in cached}
            first = paths[chosen.first_file]
            if all(paths[f].parent == first.parent for f in chosen.filenames):
                return first
        if env.offline:
            raise HubOffline(
                f"offline mode is on (HF_HUB_OFFLINE) and {spec} is not in the cache "
                f"({env.cache_dir})"
            )
    listing = list_repo_files(spec.repo_id, env=env)
    chosen = select(spec, listing.files)
    if chosen.missing_shards:
        missing = ", ".join(chosen.missing_shards)
        raise NoMatchingFile(f"{spec.repo_id} is missing shards of {chosen.quant}: {missing}")
    return download(
        spec.repo_id,
        chosen.filenames,
        local_dir=local_dir,
        progress=progress,
        cancel=cancel,
        revision=listing.commit,
        env=env,
    )


def select(spec: HubSpec, files: list[RemoteFile]) -> RemoteQuant:
    """The one model (all its shards) in `files` that `spec` names; NoMatchingFile if not one."""
    quants = group_files(spec.repo_id, files)
    if spec.quant is not None:
        wanted = spec.quant.upper()
        hits = [q for q in quants if q.quant.upper() == wanted]
        what = f"quantization {spec.quant}"
    else:
        pattern = (spec.pattern or "").lower()
        hits = [q for q in quants if any(_matches(pattern, f) for f in q.filenames)]
        what = f"files matching {spec.pattern}"
    if len(hits) == 1:
        return hits[0]
    if not hits:
        available = ", ".join(sorted({q.quant for q in quants})) or "no GGUF files"
        raise NoMatchingFile(f"{spec.repo_id} has no {what} (it has: {available})")
    listed = ", ".join(q.first_file for q in hits)
    raise NoMatchingFile(
        f"{spec.repo_id} has several {what}: {listed}; name one file with REPO/FILE"
    )


def _matches(pattern: str, path: str) -> bool:
    path = path.lower()
    name = path.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(name, pattern)
