"""The Hugging Face view of the model picker: search repos, see their quantizations.

What the Hub sends (repository ids, file names) is shown as plain text; a search or
listing overtaken by a newer one is dropped when it comes back.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message as TextualMessage
from textual.widgets import Static
from textual.worker import get_current_worker

from gguf_tui.models.hub.listing import RemoteQuant, RemoteRepo
from gguf_tui.models.units import format_bytes
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import to_bindings
from gguf_tui.tui.text import cell, literal
from gguf_tui.tui.widgets.filter_table import Column, FilterTable, RowTable

FIT_KINDS = {"gpu": "ok", "ram": "ok", "tight": "warn", "too big": "bad"}

REPO_COLUMNS: tuple[Column[RemoteRepo], ...] = (
    Column("repository", lambda r: cell(r.repo_id + (" (gated)" if r.gated else ""))),
    Column("downloads", lambda r: cell(f"{r.downloads:,}" if r.downloads is not None else "")),
    Column("likes", lambda r: cell(str(r.likes or ""))),
)


def _fit(q: RemoteQuant) -> Text:
    if q.memory is None:
        return cell("")
    return cell(
        f"{format_bytes(q.memory.total)} · {q.memory.label}", FIT_KINDS.get(q.memory.fit, "")
    )


def _bpw(q: RemoteQuant) -> Text:
    approx = "~" if q.bpw_estimated else ""
    return cell(f"{q.bits_per_weight:.2f}{approx}" if q.bits_per_weight else "")


class HubBrowser(FilterTable):
    """A search box; repositories; the quantizations of the chosen one."""

    FOCUS_ON_ARROWS = True

    # Escape goes back from a repository's quantizations to the search results; with
    # nothing to go back to it is the picker's own escape (close).
    BINDINGS = to_bindings(keymap.HUB_ACTIONS)

    class QuantChosen(TextualMessage):
        def __init__(self, quant: RemoteQuant) -> None:
            super().__init__()
            self.quant = quant

    def __init__(
        self, n_ctx: int = 4096, kv_types: tuple[str, str] = ("f16", "f16"), **kwargs
    ) -> None:
        super().__init__(
            placeholder="Search Hugging Face for GGUF models (or type owner/repo) · enter",
            filter_id="hub-search",
            table_id="hub-repos",
            key=lambda r: r.repo_id,
            columns=REPO_COLUMNS,
            **kwargs,
        )
        self.n_ctx = n_ctx
        self.kv_types = kv_types  # the KV-cache types a download would load with
        # What decides a choice first, so an 80-column terminal shows it without scrolling.
        self.quant_columns: tuple[Column[RemoteQuant], ...] = (
            Column(
                "quant",
                lambda q: cell(q.quant + (f" ({q.n_shards} files)" if q.n_shards > 1 else "")),
            ),
            Column("size", lambda q: cell(format_bytes(q.size))),
            Column(f"memory at {n_ctx:,} ctx", _fit),
            Column("guidance", lambda q: cell(q.hint)),
            Column("bits/w", _bpw),
        )

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield RowTable(lambda q: q.spec, id="hub-quants")
        yield Static("", id="hub-detail", markup=False)

    def on_mount(self) -> None:
        self.set_rows([])
        self.quant_table.show([], self.quant_columns)
        self.quant_table.display = False
        self._say(self._hint())

    @property
    def repos(self) -> list[RemoteRepo]:
        return self.rows

    @property
    def quants(self) -> list[RemoteQuant]:
        return self.quant_table.shown

    @property
    def quant_table(self) -> RowTable[RemoteQuant]:
        return self.query_one("#hub-quants", RowTable)

    @property
    def active_table(self) -> RowTable:
        return self.quant_table if self.quant_table.display else self.table

    def _hint(self) -> str:
        from gguf_tui.models.hub.client import HubEnv

        env = HubEnv.from_environ()
        hint = "Type a search (qwen 0.5b instruct) or a repository id (owner/name) and press enter."
        if env.offline:
            hint += (
                "\nOffline: HF_HUB_OFFLINE is set, so only repositories already in the "
                "Hugging Face cache can be listed; downloaded models are in the Local view."
            )
        return hint

    def _say(self, text: str) -> None:
        self.query_one("#hub-detail", Static).update(literal(text))

    def _say_unless_overtaken(self, text: str) -> None:
        """From a worker: say `text` unless a newer search or listing replaced this one."""
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._say, text)

    # -- search ------------------------------------------------------------------------------
    def submitted(self, value: str) -> None:
        query = value.strip()
        if not query:
            return
        if query.count("/") == 1 and " " not in query:
            self.open_repo(query)  # an exact repo id: straight to its quantizations
        else:
            self._say(f"Searching for “{query}” …")
            self.search(query)

    @work(thread=True, exclusive=True, group="hub")
    def search(self, query: str) -> None:
        from gguf_tui.models.hub.errors import HubError
        from gguf_tui.models.hub.listing import search_repos

        try:
            repos = search_repos(query)
        except HubError as exc:
            self._say_unless_overtaken(str(exc))
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_repos, query, repos)

    def _show_repos(self, query: str, repos: list[RemoteRepo]) -> None:
        self.set_rows(repos)
        self._show_tables(quants=False)
        self._say(
            f"{len(repos)} repositor{'y' if len(repos) == 1 else 'ies'} for “{query}” · "
            "enter shows the quantizations"
            if repos
            else f"Nothing found for “{query}”."
        )
        if repos:
            self.table.focus()

    @on(RowTable.Chosen, "#hub-repos")
    def _repo_chosen(self, event: RowTable.Chosen) -> None:
        event.stop()
        self.open_repo(event.row.repo_id)

    # -- one repository ----------------------------------------------------------------------
    def open_repo(self, repo_id: str) -> None:
        self._say(f"Listing the files of {repo_id} …")
        self.list_quants(repo_id)

    @work(thread=True, exclusive=True, group="hub")
    def list_quants(self, repo_id: str) -> None:
        from gguf_tui.models.hub.errors import HubError
        from gguf_tui.models.hub.listing import list_quants

        try:
            quants = list_quants(repo_id, n_ctx=self.n_ctx, kv_types=self.kv_types)
        except HubError as exc:
            self._say_unless_overtaken(str(exc))
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_quants, repo_id, quants)

    def _show_quants(self, repo_id: str, quants: list[RemoteQuant]) -> None:
        self.quant_table.show(quants)
        self._show_tables(quants=True)
        gated = (
            " · gated: log in with `hf auth login` or set HF_TOKEN"
            if quants and quants[0].gated
            else ""
        )
        self._say(
            f"{repo_id}: {len(quants)} quantizations · enter downloads and loads · "
            f"escape goes back{gated}"
            if quants
            else f"{repo_id} has no GGUF files."
        )
        if quants:
            self.quant_table.focus()

    @on(RowTable.Chosen, "#hub-quants")
    def _quant_chosen(self, event: RowTable.Chosen) -> None:
        event.stop()
        self.post_message(self.QuantChosen(event.row))

    @on(RowTable.Highlighted)
    def _highlighted(self, event: RowTable.Highlighted) -> None:
        event.stop()  # the line under the tables says what a listing found

    def _show_tables(self, quants: bool) -> None:
        self.query_one("#hub-quants").display = quants
        self.query_one("#hub-repos").display = not quants
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            quants = self.query("#hub-quants")
            return bool(quants and quants.first().display and self.repos)
        return True

    def action_back(self) -> None:
        self._show_tables(quants=False)
        self.query_one("#hub-repos").focus()
