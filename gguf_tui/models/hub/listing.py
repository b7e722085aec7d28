"""A Hub repository's GGUF quantizations, and searching the Hub for GGUF repositories.

Every call reads the Hub settings at call time (`HubEnv`), has a timeout, and raises only
`HubError` (see errors.py). Nothing here downloads a model: see download.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gguf_tui.models.gguf_file import SHARD_RE, metadata_prefix
from gguf_tui.models.hub.client import HubEnv, check_commit, hub_session
from gguf_tui.models.hub.errors import HubServerError, quoted
from gguf_tui.models.memory import (
    DEFAULT_KV_TYPE,
    MemoryEstimate,
    SystemMemory,
    estimate_memory,
    kv_bytes_per_token,
    system_memory,
)
from gguf_tui.models.quant import NOMINAL_BPW, model_base_name, quality_hint, quant_from_filename

HEADER_PROBE_BYTES = 1 << 20  # the hyperparameters sit in the first KiBs of a GGUF
PROBE_DEADLINE = 15.0  # seconds at most for the probe: it only refines an estimate
MAX_TREE_ENTRIES = 50_000  # files and folders of one repository listing


@dataclass(frozen=True, slots=True)
class RemoteFile:
    path: str  # path in the repository, `/`-separated
    size: int


@dataclass(slots=True)
class RemoteQuant:
    """One quantization offered by a repository: one file, or every shard of a split one."""

    repo_id: str
    quant: str  # "Q4_K_M"; the file's base name when the name carries no quantization
    files: list[RemoteFile]  # in shard order
    size: int  # all shards
    bits_per_weight: float | None
    bpw_estimated: bool  # True: the nominal value for this quant, parameters unknown
    hint: str  # quant.quality_hint: "good default", "extremely low quality", …
    memory: MemoryEstimate | None = None
    missing_shards: list[str] = field(default_factory=list)
    gated: bool = False

    @property
    def filenames(self) -> list[str]:
        return [f.path for f in self.files]

    @property
    def first_file(self) -> str:
        return self.files[0].path

    @property
    def n_shards(self) -> int:
        return len(self.files) + len(self.missing_shards)

    @property
    def spec(self) -> str:
        """What to pass to `pull` or `resolve_model_spec` to get exactly this."""
        return f"{self.repo_id}:{self.quant}"


@dataclass(frozen=True, slots=True)
class RemoteRepo:
    """A search result."""

    repo_id: str
    downloads: int | None
    likes: int | None
    gated: bool
    last_modified: datetime | None


@dataclass(slots=True)
class RepoFiles:
    """What `list_repo_files` learnt about a repository."""

    repo_id: str
    commit: str | None
    files: list[RemoteFile]
    n_params: int | None = None
    gated: bool = False


def list_repo_files(
    repo_id: str, *, revision: str | None = None, env: HubEnv | None = None
) -> RepoFiles:
    """Every .gguf in a repository (subfolders included) with its size, plus its model info."""
    env = env or HubEnv.from_environ()
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=env.endpoint, token=env.token or False)
    with hub_session(env, repo_id=repo_id):
        info = api.model_info(
            repo_id, revision=revision, timeout=env.timeout, expand=["sha", "gated", "gguf"]
        )
        # The sha becomes the revision of every request below and a folder in the cache.
        check_commit(info.sha, env.endpoint, f"the files of {repo_id}")
        tree = api.list_repo_tree(repo_id, recursive=True, revision=info.sha or revision)
        files = []
        for n, entry in enumerate(tree):
            if n >= MAX_TREE_ENTRIES:
                raise HubServerError(
                    f"{env.endpoint} lists more than {MAX_TREE_ENTRIES} files in {repo_id}; "
                    "gguf-tui stopped reading there"
                )
            if isinstance(entry, RepoFile) and _text(entry.path).lower().endswith(".gguf"):
                files.append(RemoteFile(entry.path, _size(entry, env.endpoint)))
    gguf = info.gguf if isinstance(info.gguf, dict) else {}
    total = gguf.get("total")
    return RepoFiles(
        repo_id=repo_id,
        commit=info.sha,
        files=sorted(files, key=lambda f: f.path),
        n_params=total if isinstance(total, int) and total > 0 else None,
        gated=bool(info.gated),
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int | None:
    """A count from the server: a non-negative int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _size(entry: Any, endpoint: str) -> int:
    lfs = entry.lfs
    size = _count(getattr(lfs, "size", None) if lfs else entry.size)
    if size is None:
        raise HubServerError(
            f"{endpoint} gave {quoted(entry.path)} a size that is not a number of bytes "
            "(JSON of an unexpected shape); is HF_ENDPOINT a Hugging Face Hub?"
        )
    return size


def is_projector(path: str) -> bool:
    """Vision projectors (`mmproj-*.gguf`) ride along with a model; they are not one."""
    return "mmproj" in path.rsplit("/", 1)[-1].lower()


def group_files(repo_id: str, files: list[RemoteFile]) -> list[RemoteQuant]:
    """Group a repository's GGUF files into quantizations (shards joined, projectors left out).

    Sizes, bits per weight and memory are filled in by `list_quants`; this only groups.
    """
    groups: dict[str, list[tuple[int, int, RemoteFile]]] = {}
    for f in files:
        if is_projector(f.path):
            continue
        folder, _, name = f.path.rpartition("/")
        m = SHARD_RE.match(name)
        key = f"{folder}/{m['base']}" if m else f.path
        no, count = (int(m["no"]), int(m["count"])) if m else (1, 1)
        groups.setdefault(key, []).append((no, count, f))
    quants = []
    for key, members in groups.items():
        members.sort(key=lambda t: t[0])
        count = max(t[1] for t in members)
        have = {t[0] for t in members}
        folder, _, base = key.rpartition("/")
        missing = [
            f"{folder + '/' if folder else ''}{base}-{i:05d}-of-{count:05d}.gguf"
            for i in range(1, count + 1)
            if i not in have
        ]
        ordered = [t[2] for t in members]
        quant = quant_from_filename(key) or model_base_name(key)
        quants.append(
            RemoteQuant(
                repo_id=repo_id,
                quant=quant,
                files=ordered,
                size=sum(f.size for f in ordered),
                bits_per_weight=None,
                bpw_estimated=True,
                hint=quality_hint(quant),
                missing_shards=missing,
            )
        )
    return quants


def list_quants(
    repo_id: str,
    *,
    n_ctx: int = 4096,
    revision: str | None = None,
    memory: SystemMemory | None = None,
    env: HubEnv | None = None,
    kv_types: tuple[str, str] = (DEFAULT_KV_TYPE, DEFAULT_KV_TYPE),
) -> list[RemoteQuant]:
    """A repository's quantizations, smallest bits per weight first, with guidance and fit.

    Bits per weight are measured (size × 8 / parameters) when the Hub knows the parameter
    count, else the nominal value for the quantization. The memory estimate uses the real
    hyperparameters, read from the first megabyte of one file, when that succeeds.
    """
    env = env or HubEnv.from_environ()
    listing = list_repo_files(repo_id, revision=revision, env=env)
    quants = group_files(repo_id, listing.files)
    kv = _probe_kv_per_token(listing, quants, env) if quants else None
    mem = memory if memory is not None else system_memory()
    for q in quants:
        q.gated = listing.gated
        if listing.n_params:
            q.bits_per_weight, q.bpw_estimated = q.size * 8 / listing.n_params, False
        else:
            q.bits_per_weight = NOMINAL_BPW.get(q.quant.removeprefix("UD-"))
        q.memory = estimate_memory(q.size, n_ctx, kv, mem, kv_types)
    quants.sort(key=lambda q: (q.bits_per_weight or q.size * 1e-9 + 100, q.size, q.quant))
    return quants


def _probe_kv_per_token(listing: RepoFiles, quants: list[RemoteQuant], env: HubEnv) -> int | None:
    """Read the start of the smallest file for the KV-cache size; None if that fails."""
    if listing.gated:
        return None
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session

    smallest = min(quants, key=lambda q: q.size)
    url = hf_hub_url(
        listing.repo_id, smallest.first_file, revision=listing.commit, endpoint=env.endpoint
    )
    headers = build_hf_headers(token=env.token or False)
    headers["Range"] = f"bytes=0-{HEADER_PROBE_BYTES - 1}"
    head = bytearray()
    try:
        with (
            hub_session(
                dataclasses.replace(env, deadline=min(env.deadline, PROBE_DEADLINE)),
                repo_id=listing.repo_id,
            ),
            get_session().stream("GET", url, headers=headers) as response,
        ):
            if response.status_code not in (200, 206):
                return None
            for chunk in response.iter_bytes():  # a server may ignore Range: stop early
                head += chunk
                if len(head) >= HEADER_PROBE_BYTES:
                    break
        return kv_bytes_per_token(metadata_prefix(bytes(head[:HEADER_PROBE_BYTES])))
    except Exception:  # an estimate is optional: never fail the listing for it
        return None


def search_repos(query: str, limit: int = 30, *, env: HubEnv | None = None) -> list[RemoteRepo]:
    """GGUF repositories matching `query`, most downloaded first."""
    env = env or HubEnv.from_environ()
    from huggingface_hub import HfApi

    api = HfApi(endpoint=env.endpoint, token=env.token or False)
    with hub_session(env):
        found = list(api.list_models(search=query, filter="gguf", sort="downloads", limit=limit))
    return [repo for m in found[:limit] if (repo := _repo(m)) is not None]


def _repo(info: Any) -> RemoteRepo | None:
    """A search result as the app uses it; None for one without a usable id."""
    repo_id = getattr(info, "id", None)
    if not isinstance(repo_id, str) or not repo_id:
        return None
    modified = getattr(info, "last_modified", None)
    return RemoteRepo(
        repo_id=repo_id,
        downloads=_count(getattr(info, "downloads", None)),
        likes=_count(getattr(info, "likes", None)),
        gated=bool(getattr(info, "gated", False)),
        last_modified=modified if isinstance(modified, datetime) else None,
    )
