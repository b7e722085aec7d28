"""`gguf-tui list [REPO|FOLDER]`: the local models, those of one folder, or the
quantizations of a Hub repository."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from gguf_tui.commands import common
from gguf_tui.commands.output import literal


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list local models, or a Hub repository's quantizations",
        description="Without REPO: every GGUF model in the model folders and the Hugging "
        "Face cache (broken and incomplete files are listed with the reason). "
        "With a FOLDER (or a .gguf file): the models in it. "
        "With REPO: the quantizations a Hugging Face repository offers, with sizes, "
        "guidance and whether each fits in this machine's memory.",
    )
    p.add_argument(
        "repo",
        metavar="REPO|FOLDER",
        nargs="?",
        help="a Hugging Face repository id (owner/name), or a folder or .gguf file on disk",
    )
    p.add_argument("--remote", metavar="REPO", help="same as giving REPO")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--n-ctx",
        type=int,
        metavar="N",
        help="context size for the memory estimate of REPO (default from the settings)",
    )
    p.add_argument("--no-hf-cache", action="store_true", help="leave out the Hugging Face cache")
    p.add_argument(
        "--server",
        metavar="URL|NAME",
        help="list the models of an OpenAI-compatible server instead (a URL, or a "
        "[servers.NAME] from config.toml)",
    )
    p.add_argument("--api-key-env", metavar="VAR", help="variable holding the server's API key")
    common.add_data_options(p)


def run(args: argparse.Namespace) -> int:
    ctx = common.open_context(args)
    repo = args.remote or args.repo
    if args.remote and args.repo and args.remote != args.repo:
        raise common.CliError("give REPO or --remote REPO, not both")
    if args.server:
        if repo:
            raise common.CliError("give REPO or --server, not both")
        from gguf_tui.commands.server_list import print_server_models

        return print_server_models(args, ctx)
    from gguf_tui.models.catalog import DEFAULT, scan, scan_configured

    if repo and (on_disk := _on_disk(repo, from_option=bool(args.remote))) is not None:
        models = scan([on_disk], hf_cache=None, cache_file=ctx.paths.scan_cache)
        return _print_models(models, args, f"no GGUF models in {on_disk}")
    if repo:
        return _remote(repo, args, ctx)
    found = scan_configured(
        ctx.paths.models_dir,
        ctx.settings.model_dirs,
        ctx.models_dirs,
        hf_cache=None if args.no_hf_cache else DEFAULT,
        cache_file=ctx.paths.scan_cache,
    )
    where = ", ".join(f"{p.path} ({p.why})" for p in found.places)
    return _print_models(found.models, args, f"no GGUF models found (looked in {where})")


# A Hugging Face repository id as the Hub accepts it: owner/name, each part letters, digits,
# `_`, `-` and `.` that start and end with a letter or digit, no `--` or `..`, 96 at most.
_PART = r"[A-Za-z0-9_](?:[\w.-]*[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"^{_PART}/{_PART}$", re.ASCII)


def is_repo_id(text: str) -> bool:
    return bool(_REPO_ID.match(text)) and ".." not in text and "--" not in text and len(text) <= 96


def _on_disk(arg: str, from_option: bool = False) -> Path | None:
    """The folder or .gguf file `arg` names; None for a repository id; a CliError when it
    is neither (never the Hub's own traceback for a path taken as a repository)."""
    path = Path(arg).expanduser()
    if not from_option:
        if path.is_dir():
            return path
        if path.exists():
            if not path.name.lower().endswith(".gguf"):
                raise common.CliError(f"{arg} is not a .gguf file")
            return path
    if is_repo_id(arg):
        return None
    quant = re.match(r"^(?P<repo>[^:]+):[\w.-]+$", arg)
    if quant and is_repo_id(quant["repo"]):
        raise common.CliError(
            f"'{arg}' names one quantization; list the repository's with: "
            f"gguf-tui list {quant['repo']}"
        )
    if not from_option and (arg.startswith(("/", ".", "~")) or "\\" in arg or arg.count("/") > 1):
        raise common.CliError(f"no such file or folder: {arg}")
    raise common.CliError(
        f"'{arg}' is not a folder, a .gguf file or a Hugging Face repository (owner/name)"
    )


def _print_models(models: Sequence, args: argparse.Namespace, none_found: str) -> int:
    if args.json:
        json.dump([m.to_dict() for m in models], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not models:
        print(literal(none_found), file=sys.stderr)
        return 0
    _print_local(models)
    return 0


def _print_local(models: Sequence) -> None:
    from gguf_tui.models.units import format_bytes

    rows = [("NAME", "QUANT", "BPW", "SIZE", "CONTEXT", "TEMPLATE", "PATH")]
    notes: dict[int, str] = {}
    for m in models:
        shards = f" ({m.n_shards} shards)" if m.n_shards > 1 else ""
        rows.append(
            (
                m.display_name if m.size_label == "?" else f"{m.display_name} {m.size_label}",
                m.quant,
                f"{m.bits_per_weight:.2f}" if m.bits_per_weight else "-",
                format_bytes(m.file_size) + shards,
                str(m.context_length or "-"),
                "yes" if m.has_chat_template else "no",
                f"{m.path}" + (f"  [{m.repo_id}]" if m.repo_id else ""),
            )
        )
        if m.error:
            notes[len(rows) - 1] = f"broken: {m.error}"
        elif m.incomplete:
            notes[len(rows) - 1] = f"incomplete: missing {', '.join(m.missing_shards)}"
    shown = [tuple(literal(c) for c in r) for r in rows]  # names as shown, then widths
    widths = [max(len(r[i]) for r in shown) for i in range(len(shown[0]) - 1)]
    for n, row in enumerate(shown):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        print(literal("  ".join([*cells, row[-1]])))
        if n in notes:
            print(literal(f"  ! {notes[n]}"))


def _remote(repo: str, args: argparse.Namespace, ctx: common.Context) -> int:
    from gguf_tui.models.hub.errors import HubError
    from gguf_tui.models.hub.listing import list_quants
    from gguf_tui.models.units import format_bytes

    n_ctx = args.n_ctx or ctx.settings.n_ctx
    try:
        quants = list_quants(repo, n_ctx=n_ctx)
    except HubError as exc:
        raise common.CliError(str(exc)) from None
    except ValueError as exc:  # huggingface_hub's HFValidationError: a name it refuses
        raise common.CliError(f"'{repo}' is not a usable repository id: {exc}") from None
    if args.json:
        json.dump([_quant_dict(q) for q in quants], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not quants:
        print(literal(f"{repo} has no GGUF files"), file=sys.stderr)
        return 0
    rows = [("QUANT", "SIZE", "BPW", "FILES", "GUIDANCE", f"MEMORY @ {n_ctx} ctx")]
    for q in quants:
        approx = "~" if q.bpw_estimated else ""
        bpw = f"{approx}{q.bits_per_weight:.2f}" if q.bits_per_weight else "-"
        files = f"{q.n_shards} shards" if q.n_shards > 1 else "1 file"
        if q.missing_shards:
            files += f" ({len(q.missing_shards)} missing)"
        mem = q.memory
        fit = f"{format_bytes(mem.total)} - {mem.label}" if mem else "-"
        rows.append((q.quant, format_bytes(q.size), bpw, files, q.hint or "-", fit))
    shown = [tuple(literal(c) for c in r) for r in rows]  # names as shown, then widths
    widths = [max(len(r[i]) for r in shown) for i in range(len(shown[0]))]
    for row in shown:
        print(literal("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()))
    gated = " (gated: needs a token, see docs/models.md)" if quants[0].gated else ""
    print(literal(f"\nDownload one with: gguf-tui pull {repo}:QUANT{gated}"), file=sys.stderr)
    return 0


def _quant_dict(q) -> dict:
    mem = q.memory
    return {
        "repo_id": q.repo_id,
        "quant": q.quant,
        "spec": q.spec,
        "files": q.filenames,
        "missing_shards": q.missing_shards,
        "size": q.size,
        "bits_per_weight": q.bits_per_weight,
        "bpw_estimated": q.bpw_estimated,
        "hint": q.hint,
        "gated": q.gated,
        "memory": None
        if mem is None
        else {
            "total": mem.total,
            "weights": mem.weights,
            "kv_cache": mem.kv_cache,
            "overhead": mem.overhead,
            "n_ctx": mem.n_ctx,
            "kv_exact": mem.kv_exact,
            "fit": mem.fit,
        },
    }
