"""The Hugging Face view of the model picker: search repos, see their quantizations.

What the Hub sends (repository ids, file names) is shown as plain text; a search or
listing overtaken by a newer one is dropped when it comes back.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from gguf_tui.models.hub.listing import RemoteQuant, RemoteRepo
from gguf_tui.models.units import format_bytes
from gguf_tui.tui.text import cell, literal
from gguf_tui.tui.widgets.local_models import TABLE_MOVES

FIT_KINDS = {"gpu": "ok", "ram": "ok", "tight": "warn", "too big": "bad"}


class HubBrowser(Vertical):
    """A search box; repositories; the quantizations of the chosen one."""

    # Escape goes back from a repository's quantizations to the search results; with
    # nothing to go back to it is the picker's own escape (close).
    BINDINGS = [Binding("escape", "back", "Back")]

    class QuantChosen(TextualMessage):
        def __init__(self, quant: RemoteQuant) -> None:
            super().__init__()
            self.quant = quant

    def __init__(self, n_ctx: int = 4096, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_ctx = n_ctx
        self.repos: list[RemoteRepo] = []
        self.quants: list[RemoteQuant] = []

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="Search Hugging Face for GGUF models (or type owner/repo) · enter",
            id="hub-search",
        )
        yield DataTable(id="hub-repos", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="hub-quants", cursor_type="row", zebra_stripes=True)
        yield Static("", id="hub-detail", markup=False)

    def on_mount(self) -> None:
        self.query_one("#hub-repos", DataTable).add_columns("repository", "downloads", "likes")
        # What decides a choice first, so an 80-column terminal shows it without scrolling.
        self.query_one("#hub-quants", DataTable).add_columns(
            "quant", "size", f"memory at {self.n_ctx:,} ctx", "guidance", "bits/w"
        )
        self.query_one("#hub-quants").display = False
        self._say(self._hint())

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
    @on(Input.Submitted, "#hub-search")
    def _search(self, event: Input.Submitted) -> None:
        query = event.value.strip()
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
        self.repos = repos
        table = self.query_one("#hub-repos", DataTable)
        table.clear()
        for repo in repos:
            name = repo.repo_id + (" (gated)" if repo.gated else "")
            table.add_row(  # cells as Text: a str cell would be read as markup
                cell(name),
                cell(f"{repo.downloads:,}" if repo.downloads is not None else ""),
                cell(str(repo.likes or "")),
            )
        self._show_tables(quants=False)
        self._say(
            f"{len(repos)} repositor{'y' if len(repos) == 1 else 'ies'} for “{query}” · "
            "enter shows the quantizations"
            if repos
            else f"Nothing found for “{query}”."
        )
        if repos:
            table.focus()

    @on(DataTable.RowSelected, "#hub-repos")
    def _repo_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.repos):
            self.open_repo(self.repos[event.cursor_row].repo_id)

    # -- one repository ----------------------------------------------------------------------
    def open_repo(self, repo_id: str) -> None:
        self._say(f"Listing the files of {repo_id} …")
        self.list_quants(repo_id)

    @work(thread=True, exclusive=True, group="hub")
    def list_quants(self, repo_id: str) -> None:
        from gguf_tui.models.hub.errors import HubError
        from gguf_tui.models.hub.listing import list_quants

        try:
            quants = list_quants(repo_id, n_ctx=self.n_ctx)
        except HubError as exc:
            self._say_unless_overtaken(str(exc))
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_quants, repo_id, quants)

    def _show_quants(self, repo_id: str, quants: list[RemoteQuant]) -> None:
        self.quants = quants
        table = self.query_one("#hub-quants", DataTable)
        table.clear()
        for q in quants:
            bpw = (
                f"{q.bits_per_weight:.2f}{'~' if q.bpw_estimated else ''}"
                if q.bits_per_weight
                else ""
            )
            fit = cell("")
            if q.memory is not None:
                fit = cell(
                    f"{format_bytes(q.memory.total)} · {q.memory.label}",
                    FIT_KINDS.get(q.memory.fit, ""),
                )
            shards = f" ({q.n_shards} files)" if q.n_shards > 1 else ""
            table.add_row(
                cell(q.quant + shards), cell(format_bytes(q.size)), fit, cell(q.hint), cell(bpw)
            )
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
            table.focus()

    @on(DataTable.RowSelected, "#hub-quants")
    def _quant_selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.quants):
            self.post_message(self.QuantChosen(self.quants[event.cursor_row]))

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

    def on_key(self, event) -> None:
        if event.key in TABLE_MOVES and self.query_one(Input).has_focus:
            event.stop()
            table_id = "#hub-quants" if self.query_one("#hub-quants").display else "#hub-repos"
            table = self.query_one(table_id, DataTable)
            table.focus()
            getattr(table, f"action_{TABLE_MOVES[event.key]}")()
