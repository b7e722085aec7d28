"""The Servers view of the model picker: models offered by OpenAI-compatible servers.

Servers come from `[servers.NAME]` in config.toml (and the one given with
--server); each is asked for its models (`GET /v1/models`) in a worker, so a
slow or dead server only costs its own row.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.widgets import DataTable, Static

from gguf_tui.engine.endpoint import Endpoint
from gguf_tui.engine.remote_models import RemoteModel
from gguf_tui.tui.text import cell


class ServerModels(Vertical):
    class Chosen(TextualMessage):
        def __init__(self, model: RemoteModel) -> None:
            super().__init__()
            self.model = model

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.models: list[RemoteModel] = []

    def compose(self) -> ComposeResult:
        yield DataTable(id="server-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="server-detail", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("server", "model", "quant", "context")

    def show_servers(self, endpoints: dict[str, Endpoint], problems: list[str]) -> None:
        detail = self.query_one("#server-detail", Static)
        if not endpoints:
            detail.update(
                'No servers configured. Add [servers.NAME] url = "http://host:8080/v1" '
                "to config.toml, or start with --server URL (see docs/remote.md)."
            )
            return
        detail.update("Asking the servers for their models …" + "".join(f"\n{p}" for p in problems))
        for name, endpoint in endpoints.items():
            self.ask(name, endpoint)

    @work(thread=True, group="servers")
    def ask(self, name: str, endpoint: Endpoint) -> None:
        from gguf_tui.engine.remote_errors import RemoteError
        from gguf_tui.engine.remote_models import list_remote_models

        try:
            models = list_remote_models(endpoint)
        except RemoteError as exc:
            self.app.call_from_thread(self._add_error, name, str(exc))
            return
        self.app.call_from_thread(self._add_models, name, models)

    def _add_models(self, name: str, models: list[RemoteModel]) -> None:
        table = self.query_one(DataTable)
        for model in models:
            self.models.append(model)
            ctx = model.n_ctx or model.n_ctx_train
            table.add_row(name, model.name, model.quant, f"{ctx:,}" if ctx else "", key=model.id)
        self.query_one("#server-detail", Static).update(
            f"{len(self.models)} models on servers · enter uses one"
        )

    def _add_error(self, name: str, message: str) -> None:
        self.query_one(DataTable).add_row(name, cell(message, "bad"), "", "")
        self.models.append(None)  # keep rows and models aligned

    @on(DataTable.RowSelected, "#server-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.models):
            model = self.models[event.cursor_row]
            if model is not None:
                self.post_message(self.Chosen(model))
