"""Horizontal bars drawn with block characters: one figure per row, easy to compare.

Eighth blocks (▏▎▍▌▋▊▉█) give the bars eight steps per cell, so two
quantizations a few percent apart still look different in a narrow terminal.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from gguf_tui.tui.text import literal

_EIGHTHS = " ▏▎▍▌▋▊▉"
FULL = "█"


def bar(value: float, top: float, width: int) -> str:
    """`value` as a bar of at most `width` cells, `top` filling them all."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = round(min(value / top, 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    return FULL * full + (_EIGHTHS[rest] if rest else "")


def chart_rows(
    bars: list[tuple[str, float | None]],
    width: int,
    digits: int = 1,
    missing: str = "-",
    unit: str = "",
    scale: float | None = None,
) -> list[tuple[str, str, str]]:
    """(label, bar, value) cells padded to `width` in all; None (a failed row, or one
    never measured) is `missing`. `unit` follows each value ("97.1 %"). The largest
    value fills the bar, or `scale` does (100 for a percentage: 76 % is not full)."""
    if not bars:
        return []
    label_w = max(len(label) for label, _ in bars)
    values = [f"{v:.{digits}f}{unit}" if v is not None else missing for _, v in bars]
    value_w = max(len(v) for v in values)
    room = max(1, width - label_w - value_w - 4)
    top = scale or max((v for _, v in bars if v is not None), default=0.0)
    return [
        (label.ljust(label_w), bar(v or 0.0, top, room).ljust(room), text.rjust(value_w))
        for (label, v), text in zip(bars, values, strict=True)
    ]


def chart_lines(
    bars: list[tuple[str, float | None]],
    width: int,
    digits: int = 1,
    missing: str = "-",
    unit: str = "",
    scale: float | None = None,
) -> list[str]:
    """`label  ██████▍  12.3` lines, as the widget draws them (for tests and logs)."""
    return ["  ".join(row) for row in chart_rows(bars, width, digits, missing, unit, scale)]


class BarChart(Widget):
    """A titled chart; `set_bars` replaces its rows (and, if given, its title)."""

    DEFAULT_CSS = """
    BarChart { height: auto; }
    """

    def __init__(
        self,
        title: str,
        digits: int = 1,
        missing: str = "-",
        unit: str = "",
        scale: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.scale = scale
        self.title = title
        self.digits = digits
        self.missing = missing
        self.unit = unit
        self.bars: list[tuple[str, float | None]] = []

    def set_bars(self, bars: list[tuple[str, float | None]], title: str | None = None) -> None:
        self.bars = list(bars)
        if title is not None:
            self.title = title
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        return 1 + max(1, len(self.bars))

    def render(self) -> Text:
        text = Text(literal(self.title), style="bold")
        width = self.content_size.width
        rows = chart_rows(self.bars, width, self.digits, self.missing, self.unit, self.scale)
        if not rows:
            text.append("\n(nothing measured yet)", style="dim")
        for label, drawn, value in rows:
            text.append(f"\n{literal(label)}  ")
            text.append(drawn, style="green")
            text.append(f"  {value}", style="dim" if value.strip() == self.missing else "")
        return text
