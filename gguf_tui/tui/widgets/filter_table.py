"""A filter box over a table of rows: what the picker's Local and Hugging Face views and
the `f3` switcher share.

Rows are objects (dataclasses) drawn by a list of `Column`s; a row is told apart by
its key, so a refresh (a rescan, a listing that arrives second, another sort order)
keeps the highlighted row highlighted instead of jumping back to the top. The words
typed filter the rows (each must be in the row's haystack); the arrow keys typed in
the box move the table, so typing and picking flow; enter chooses the highlighted row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from gguf_tui.tui.text import cell

R = TypeVar("R")

TABLE_MOVES = {
    "up": "cursor_up",
    "down": "cursor_down",
    "pageup": "page_up",
    "pagedown": "page_down",
}


@dataclass(frozen=True, slots=True)
class Column(Generic[R]):
    """A column: its heading, and the cell of a row (a `cell(...)` Text, or a constant)."""

    label: str
    cell: Callable[[R], Text | str]


def _as_cell(value: Text | str) -> Text:
    """A column's value as a table cell: a constant made a `cell`, a `cell(...)` Text
    copied as it is (one style: what `cell` makes)."""
    if isinstance(value, str):
        return cell(value)
    return Text(value.plain, style=value.style, justify=value.justify)


class _RowMessage(Message):
    """A row of a RowTable (`control`: the table, for `@on(..., "#id")`)."""

    def __init__(self, table: RowTable, row: Any) -> None:
        super().__init__()
        self.table = table
        self.row = row

    @property
    def control(self) -> RowTable:
        return self.table


class RowTable(DataTable, Generic[R]):
    """A DataTable whose rows are objects; says which one was highlighted or chosen."""

    class Chosen(_RowMessage):
        """Enter (or a click) on a row."""

    class Highlighted(_RowMessage):
        """The cursor is on another row (None: the table is empty)."""

    def __init__(self, key: Callable[[R], str], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.row_key = key
        self.shown: list[R] = []
        self._keys: list[str] = []
        self._columns: tuple[Column[R], ...] = ()

    def show(self, rows: Iterable[R], columns: Sequence[Column[R]] | None = None) -> None:
        """Draw `rows` (with `columns` when given and new); the highlighted row stays
        highlighted when it is still there."""
        keep = self.highlighted_key
        if columns is not None and tuple(columns) != self._columns:
            self._columns = tuple(columns)
            self.clear(columns=True)
            self.add_columns(*(c.label for c in self._columns))
            keep = None
        self.shown = list(rows)
        self._keys = [self.row_key(r) for r in self.shown]
        self.clear()
        for row in self.shown:
            self.add_row(*(_as_cell(c.cell(row)) for c in self._columns))
        if keep is not None and keep in self._keys:
            self.move_cursor(row=self._keys.index(keep), animate=False)

    @property
    def highlighted(self) -> R | None:
        row = self.cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    @property
    def highlighted_key(self) -> str | None:
        row = self.cursor_row
        return self._keys[row] if 0 <= row < len(self._keys) else None

    def choose(self) -> None:
        """Choose the highlighted row (nothing when the table is empty), as enter on the
        table does: a message made here, in the caller's handler, would count the caller
        as its sender and stop bubbling there."""
        self.action_select_cursor()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.shown):
            self.post_message(self.Chosen(self, self.shown[event.cursor_row]))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the row now under the cursor: the rows may have changed since
        self.post_message(self.Highlighted(self, self.highlighted))


class FilterTable(Vertical, Generic[R]):
    """A filter box over a `RowTable`; subclasses add what goes around them.

    With `haystack=None` the box filters nothing: it is a query box (the Hugging Face
    search) and enter calls `submitted` with the text."""

    # Arrow keys in the box also give the table the focus (where enter means the row).
    FOCUS_ON_ARROWS = False

    def __init__(
        self,
        *,
        placeholder: str,
        filter_id: str,
        table_id: str,
        key: Callable[[R], str],
        haystack: Callable[[R], str] | None = None,
        columns: Sequence[Column[R]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.placeholder = placeholder
        self.filter_id = filter_id
        self.table_id = table_id
        self.row_key = key
        self.haystack = haystack
        self.columns = tuple(columns)
        self.sort_key: Callable[[R], Any] | None = None
        self.rows: list[R] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self.placeholder, id=self.filter_id)
        yield RowTable(self.row_key, id=self.table_id)

    # -- what is shown ------------------------------------------------------------------------
    @property
    def filter_box(self) -> Input:
        return self.query_one(f"#{self.filter_id}", Input)

    @property
    def table(self) -> RowTable[R]:
        return self.query_one(f"#{self.table_id}", RowTable)

    @property
    def active_table(self) -> RowTable:
        """The table the arrow keys and enter act on."""
        return self.table

    @property
    def shown(self) -> list[R]:
        return self.table.shown

    @property
    def words(self) -> list[str]:
        return self.filter_box.value.lower().split()

    def matches(self, text: str) -> bool:
        """Every word typed is in `text` (any case)."""
        text = text.lower()
        return all(w in text for w in self.words)

    def set_rows(self, rows: Iterable[R], columns: Sequence[Column[R]] | None = None) -> None:
        """The rows to filter from now on (with `columns`, when they change)."""
        self.rows = list(rows)
        if columns is not None:
            self.columns = tuple(columns)
        self.refilter()

    def refilter(self) -> None:
        """Show the rows that match the filter, in the sort order, the highlight kept."""
        haystack = self.haystack
        shown = [r for r in self.rows if haystack is None or self.matches(haystack(r))]
        if self.sort_key is not None:
            shown.sort(key=self.sort_key)
        self.table.show(shown, self.columns)

    # -- keys ---------------------------------------------------------------------------------
    def filter_changed(self) -> None:
        """What typing in the box does: filters the rows (a query box waits for enter)."""
        if self.haystack is not None:
            self.refilter()

    def submitted(self, value: str) -> None:
        """What enter in the box does: chooses the highlighted row."""
        self.active_table.choose()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id == self.filter_id:
            self.filter_changed()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == self.filter_id:
            self.submitted(event.value)

    def on_key(self, event) -> None:
        """Arrow keys in the box move the table, so typing and picking flow."""
        if event.key in TABLE_MOVES and self.filter_box.has_focus:
            event.stop()
            table = self.active_table
            if self.FOCUS_ON_ARROWS:
                table.focus()
            getattr(table, f"action_{TABLE_MOVES[event.key]}")()
