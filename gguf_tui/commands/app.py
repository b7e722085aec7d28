"""The default command: open the full-screen app."""

from __future__ import annotations

import argparse

from gguf_tui.commands import common


def run_app(args: argparse.Namespace) -> int:
    ctx = common.open_context(args)
    path = (
        common.resolve_model(args.model, ctx)
        if (args.model or ctx.settings.default_model)
        else None
    )
    from gguf_tui.tui.app import GgufTuiApp

    app = GgufTuiApp(model_path=path, load_options=common.load_options(args, ctx.settings))
    app.run()
    return app.return_code or 0
