"""The default command: open the full-screen app."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from gguf_tui.commands import common
from gguf_tui.config.settings import last_used_model


def last_model(ctx: common.Context) -> Path | None:
    """The model used last time, if it is still there (never an error: the app opens)."""
    default = last_used_model(ctx.paths, ctx.settings)
    if default and (path := Path(default).expanduser()).is_file():
        return path
    return None


def with_quant(path: Path | None, quant: str, ctx: common.Context, args) -> Path:
    """The `quant` sibling of `path`: on disk, or downloaded from the model's repository."""
    from gguf_tui.models.catalog import default_dirs, scan, siblings_of

    if path is None:
        raise common.CliError("--quant needs a model: give MODEL, or open one once first")
    dirs = [
        *default_dirs(ctx.paths.models_dir, ctx.settings.model_dirs, args.models_dir),
        path.parent,
    ]
    models = scan(dirs, cache_file=ctx.paths.scan_cache)
    current = next((m for m in models if m.path == path), None)
    if current is None:
        raise common.CliError(f"{path.name} is not a usable model")
    siblings = siblings_of(current, models)
    for model in siblings:
        if model.quant.upper() == quant.upper():
            return model.path
    if current.repo_id:  # from the Hugging Face cache: fetch the other quantization
        return common.resolve_model(f"{current.repo_id}:{quant}", ctx)
    have = ", ".join(m.quant for m in siblings) or "none"
    raise common.CliError(
        f"no {quant} of {current.display_name} next to it (on disk: {have}); "
        f"download one with gguf-tui pull REPO:{quant}"
    )


def reopened(ctx: common.Context, store) -> int | None:
    """The conversation the app was closed on, if it still exists: a relaunch goes on
    where the user left off instead of opening an empty chat."""
    from gguf_tui.config.settings import last_conversation
    from gguf_tui.store.errors import StoreError

    cid = last_conversation(ctx.paths)
    try:
        return cid if cid is not None and store.get_conversation(cid) is not None else None
    except StoreError:  # an unreadable database is reported when the app opens it
        return None


def report_database_faults(store, app) -> None:
    """A read that fails while the app runs (a damaged page) becomes a notice and the
    screen shows what could be read, instead of the app dying with a traceback.
    `notify` only posts a message, so it is safe from any thread."""

    def report(message: str) -> None:
        app.notify(
            f"{message}. What could be read is shown.",
            title="Conversation database",
            severity="error",
            timeout=20,
        )

    store.on_read_error = report


def quit_on_hangup(app) -> None:
    """A polite `kill` (SIGTERM) quits as ctrl+q does: the answer being written is
    stopped and saved, the terminal restored. A closed terminal (SIGHUP) cannot be drawn
    on any more, and Textual's event loop may already be stuck writing to it (measured:
    the app outlived its window at a third of a core, blocked on its writer thread): the
    answer is saved as far as it got, the database closed, and the app leaves at once.
    Both handlers run on the main thread, between two steps of whatever it was doing."""

    def quit_politely(_signum: int, _frame: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing: it ends anyway
            loop = asyncio.get_event_loop()
            loop.call_soon_threadsafe(lambda: loop.create_task(app.action_quit()))

    def hang_up(signum: int, _frame: object) -> None:
        with contextlib.suppress(Exception):
            reply = app.chat_screen.reply
            if reply is not None:
                reply.save_now()
        with contextlib.suppress(Exception):
            app.store.close()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, quit_politely)
    signal.signal(signal.SIGHUP, hang_up)


def run_app(args: argparse.Namespace) -> int:
    from gguf_tui.store.database import Store, StoreError
    from gguf_tui.terminal_guard import watch_terminal

    watch_terminal()  # first, before any thread: a signal death still restores the terminal
    ctx = common.open_context(args)
    endpoint = common.choose_server(args, ctx)
    path = None
    if endpoint is None:
        path = common.resolve_model(args.model, ctx) if args.model else last_model(ctx)
        if args.quant:
            path = with_quant(path, args.quant, ctx, args)
    try:
        store = Store(ctx.paths.database)
    except StoreError as exc:
        raise common.CliError(str(exc)) from None
    if store.read_only_reason is not None:  # the app saves every message as it is sent
        store.close()
        raise common.CliError(
            f"cannot save to {store.path}: {store.read_only_reason}; make it writable, or "
            "choose another --data-dir (gguf-tui export can still read it)"
        )
    open_conversation = reopened(ctx, store)
    if getattr(args, "import_file", None):
        from gguf_tui.store.export import import_history_file
        from gguf_tui.store.history import HistoryError

        try:
            open_conversation = import_history_file(store, Path(args.import_file)).id
        except (HistoryError, StoreError) as exc:
            store.close()
            raise common.CliError(str(exc)) from None

    backend = None
    if endpoint is not None:  # connect first: a server that is down is one clear line
        try:
            backend, _ = common.make_backend(args, ctx, endpoint, None)
        except common.CliError:
            store.close()
            raise

    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        # Textual reads keys from stdin and draws on stderr: without a terminal there it
        # spun a core forever (found launched from a script with stdin at /dev/null).
        # Checked last, so a bad model, folder or server is still said first.
        store.close()
        if backend is not None:
            backend.close()
        raise common.CliError(
            "the full-screen app needs a terminal (its input and stderr are not one); "
            "from a script use `gguf-tui run PROMPT` or `gguf-tui chat`"
        )
    from gguf_tui.tui.app import GgufTuiApp

    app = GgufTuiApp(
        paths=ctx.paths,
        config=ctx.config,
        store=store,
        model_path=path,
        load_options=common.load_options(args, ctx.settings),
        sampling=common.sampling(args, ctx.settings),
        system_prompt=common.system_prompt(args, ctx.settings),
        open_conversation=open_conversation,
        engine=backend,
        extra_model_dirs=args.models_dir,
    )
    report_database_faults(store, app)
    quit_on_hangup(app)
    try:
        app.run()
    finally:
        if backend is not None:
            backend.close()
    return app.return_code or 0
