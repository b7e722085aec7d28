"""The Servers view of the model picker: models offered by OpenAI-compatible servers.

Servers come from `[servers.NAME]` in config.toml (and the one given with
--server); each is asked for its models (`GET /v1/models`) in a worker, so a
slow or dead server only costs its own row. The line under the table counts the
answers as they come, and says how it went once every server has answered.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.widgets import DataTable, Static

from gguf_tui.engine.remote.endpoint import Endpoint
from gguf_tui.engine.remote.models import RemoteModel
from gguf_tui.tui.text import cell, literal


class ServerModels(Vertical):
    class Chosen(TextualMessage):
        def __init__(self, model: RemoteModel) -> None:
            super().__init__()
            self.model = model

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.models: list[RemoteModel | None] = []  # one per row; None: a server's message
        self.asked = 0
        self.answered = 0
        self.failed = 0
        self.problems: list[str] = []
        self.row_notes: list[str] = []  # per row: what the detail line says when highlighted

    def compose(self) -> ComposeResult:
        yield DataTable(id="server-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="server-detail", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("server", "model", "quant", "context")

    def show_servers(self, endpoints: dict[str, Endpoint], problems: list[str]) -> None:
        self.problems = [literal(p) for p in problems]
        self.asked = len(endpoints)
        self._update_detail()
        for name, endpoint in endpoints.items():
            self.ask(name, endpoint)

    def _update_detail(self) -> None:
        servers = self.asked
        n_models = sum(m is not None for m in self.models)
        if not servers:
            text = (
                'No servers configured. Add [servers.NAME] url = "http://host:8080/v1" '
                "to config.toml, or start with --server URL (see docs/remote.md)."
            )
        elif self.answered < servers:
            text = f"Asking the servers for their models … ({self.answered} of {servers} answered)"
        elif n_models:
            ok = servers - self.failed
            on = f"{servers} servers" if ok == servers else f"{ok} of {servers} servers"
            text = f"{n_models} model{'s' if n_models != 1 else ''} on {on} · enter uses one"
        else:
            text = "No server listed a model: each row says why."
        table = self.query_one(DataTable)
        row = table.cursor_row if table.row_count else -1
        note = self.row_notes[row] if 0 <= row < len(self.row_notes) else ""
        self.query_one("#server-detail", Static).update(
            "\n".join(line for line in (text, note, *self.problems) if line), layout=True
        )

    @work(thread=True, group="servers")
    def ask(self, name: str, endpoint: Endpoint) -> None:
        from gguf_tui.engine.remote.errors import RemoteError
        from gguf_tui.engine.remote.models import list_remote_models

        try:
            models = list_remote_models(endpoint)
        except RemoteError as exc:
            self.app.call_from_thread(self._add_error, name, str(exc))
            return
        self.app.call_from_thread(self._add_models, name, models)

    def _add_models(self, name: str, models: list[RemoteModel]) -> None:
        table = self.query_one(DataTable)
        self.answered += 1
        if not models:
            self.failed += 1
            table.add_row(cell(literal(name)), cell("lists no models", "warn"), "", "")
            self.models.append(None)
            self.row_notes.append(f"{literal(name)}: the server answered with an empty list")
        for model in models:
            self.models.append(model)
            self.row_notes.append(literal(f"{model.id} · {model.endpoint.url}"))
            ctx = model.n_ctx or model.n_ctx_train
            table.add_row(  # cells as Text: a str cell would be read as markup
                cell(name),
                cell(model.name),
                cell(model.quant),
                cell(f"{ctx:,}" if ctx else ""),
            )
        self._update_detail()

    def _add_error(self, name: str, message: str) -> None:
        self.answered += 1
        self.failed += 1
        # The reason is long ("cannot reach … Is the server running …"): the row says that
        # the list failed, the line under the table says why while the row is highlighted.
        self.query_one(DataTable).add_row(cell(literal(name)), cell("no model list", "bad"), "", "")
        self.models.append(None)  # keep rows and models aligned
        self.row_notes.append(literal(f"{name}: {message}"))
        self._update_detail()

    @on(DataTable.RowHighlighted, "#server-table")
    def _highlighted(self) -> None:
        self._update_detail()

    @on(DataTable.RowSelected, "#server-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.models):
            model = self.models[event.cursor_row]
            if model is not None:
                self.post_message(self.Chosen(model))
