"""`gguf-tui list --server URL`: the models an OpenAI-compatible server serves."""

from __future__ import annotations

import argparse
import json
import sys

from gguf_tui.commands import common
from gguf_tui.commands.output import literal


def print_server_models(args: argparse.Namespace, ctx: common.Context) -> int:
    from gguf_tui.config.servers import ServerConfigError, read_servers, resolve_server
    from gguf_tui.engine import RemoteError
    from gguf_tui.engine.remote.models import list_remote_models
    from gguf_tui.models.units import format_bytes

    try:
        endpoint = resolve_server(
            args.server, read_servers(ctx.config.raw), api_key_env=args.api_key_env
        )
        models = list_remote_models(endpoint)
    except (ServerConfigError, RemoteError) as exc:
        raise common.CliError(str(exc)) from None
    if args.json:
        rows = [
            {
                "id": m.id,
                "name": m.name,
                "quant": m.quant,
                "owned_by": m.owned_by,
                "n_ctx": m.n_ctx or None,
                "n_ctx_train": m.n_ctx_train or None,
                "n_params": m.n_params or None,
                "size": m.size_bytes or None,
                "server": endpoint.url,
            }
            for m in models
        ]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not models:
        print(literal(f"{endpoint.url} lists no models"), file=sys.stderr)
        return 0
    table: list[tuple[str, ...]] = [("MODEL", "QUANT", "CONTEXT", "SIZE", "OWNED BY")]
    for m in models:
        window = m.n_ctx or m.n_ctx_train
        size = format_bytes(m.size_bytes) if m.size_bytes else "-"
        table.append((m.id, m.quant, str(window) if window else "-", size, m.owned_by or "-"))
    table = [tuple(literal(c) for c in r) for r in table]  # ids as shown, then widths
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for row in table:
        print(literal("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()))
    print(literal(f"\nChat with one: gguf-tui chat --server {args.server} MODEL"), file=sys.stderr)
    return 0
