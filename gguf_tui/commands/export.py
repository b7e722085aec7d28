"""`gguf-tui export [ID | --last | --all | --list]`: conversations from the database to stdout.

Markdown to read or share, JSON that keeps everything (and imports back with
`gguf-tui --import FILE`), or the chat.py history list for `gguf-tui chat -i`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import datetime

from gguf_tui.commands import common

FORMATS = ("md", "json", "history")  # gguf_tui.store.export.FORMATS, kept light to import
SEPARATOR = "\n---\n\n"  # between conversations in `--all --format md`


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write conversations to stdout as Markdown or JSON",
        description="Write saved conversations to stdout: one (ID or --last), every one "
        "(--all), or a list of them with their IDs (--list).",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "id", metavar="ID", nargs="?", type=int, help="the conversation's ID (see --list)"
    )
    which.add_argument("--last", action="store_true", help="the conversation changed last")
    which.add_argument("--all", action="store_true", help="every conversation, newest first")
    which.add_argument(
        "--list", action="store_true", help="print ID, last change, messages and title of each"
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="md",
        help="md (default), json (everything, re-importable) or history (the chat.py list)",
    )
    p.add_argument(
        "--search", metavar="TEXT", help="with --all or --list: only conversations with these words"
    )
    common.add_data_options(p)


def run(args: argparse.Namespace) -> int:
    from gguf_tui.store.database import Store, StoreError

    ctx = common.open_context(args)
    path = ctx.paths.database
    if not path.exists():
        raise common.CliError(f"no conversations yet ({path} does not exist)")
    try:
        with Store(path, read_only=True) as store:
            for chunk in _chunks(store, args):
                _write(chunk)
    except StoreError as exc:
        raise common.CliError(str(exc)) from None
    sys.stdout.flush()
    return 0


def _chunks(store, args: argparse.Namespace) -> Iterator[str]:
    """The output in pieces, so `--all` over thousands of conversations streams."""
    from gguf_tui.store.export import export_text, exported

    if args.list:
        for conv in store.list_conversations(limit=None, query=args.search):
            changed = datetime.fromtimestamp(conv.updated_at).strftime("%Y-%m-%d %H:%M")
            yield f"{conv.id:>6}  {changed}  {conv.message_count:>5}  {conv.title}\n"
        return
    if not args.all:
        yield export_text(store, _one(store, args), args.format)
        return
    if args.format == "history":
        raise common.CliError("the history format holds one conversation: give an ID or --last")
    conversations = store.list_conversations(limit=None, query=args.search)
    if not conversations:
        raise common.CliError(
            "no conversation matches" if args.search else "there are no conversations yet"
        )
    for i, conv in enumerate(conversations):
        if args.format == "md":
            yield (SEPARATOR if i else "") + export_text(store, conv, "md")
        else:
            data = exported(store, conv)
            text = json.dumps(data, indent=2, ensure_ascii=False)
            yield ("[\n" if i == 0 else ",\n") + text
    if args.format == "json":
        yield "\n]\n"


def _one(store, args: argparse.Namespace):
    if args.search:
        raise common.CliError("--search goes with --all or --list")
    if args.last:
        conv = store.last_conversation()
        if conv is None:
            raise common.CliError("there are no conversations yet")
        return conv
    conv = store.get_conversation(args.id)
    if conv is None:
        raise common.CliError(f"no conversation with ID {args.id} (gguf-tui export --list)")
    return conv


def _write(text: str) -> None:
    """UTF-8 whatever the terminal's locale, byte-exact: the output is usually redirected
    to a file. On a terminal, what models wrote is made inert (commands/output.py)."""
    from gguf_tui.commands.output import write_data

    write_data(sys.stdout, text)
