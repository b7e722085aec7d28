"""Stream Markdown at a cost per token that neither grows with the answer nor with the
conversation around it.

Three costs of Textual's own `MarkdownStream`, each measured (benchmarks/stream_cost.py,
benchmarks/render_scaling.py), decide the design:
- every Markdown block is a widget, and each change of a block's height lays out the
  whole screen (with a long conversation mounted, most of a frame);
- a refreshed widget is repainted whole: a 30-line code block is written to the
  terminal again for each token added to its last line (~1.5 KB per token);
- the last block is re-parsed, re-wrapped and re-highlighted whole on every update.

So a streaming answer is one line-based widget. Its finished start is *sealed*:
rendered once into lines that are kept; only the live end (at most a few hundred
characters) is rendered again per update, the new lines are compared with the old
ones and only the lines that differ are repainted. Its height grows in steps of a
half the view (blank room below the text), so layout runs once per step, not per
line. A paragraph or code block that grows too long is cut at a line (the fence
closed above, reopened below, the seam hidden). When the answer ends, the message
renders it whole as Textual Markdown again (links, selection, code blocks right).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget

SEAL_CHARS = 400  # live characters that trigger sealing: bounds the render per update
CODE_SEAL_CHARS = 160  # the same inside a code block (highlighting costs 8 µs a character)
MIN_SEALED = 200  # not worth a piece below this
MIN_CODE_SEALED = 100  # nor a piece of code below this
TEXT_CUT = 4 * SEAL_CHARS  # a paragraph, list or table is cut inside only past this
HARD_CUT = 12 * SEAL_CHARS  # live text with no line, sentence or word to cut at is cut here
ROOM_SHARE = 2  # the blank room kept below the text: half the view
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s")


def _next_fence(fence: str | None, line: str) -> str | None:
    """The code fence open after `line`, given the one open before it (its marker)."""
    m = _FENCE.match(line)
    if m is None:
        return fence
    marker = m.group(1)
    if fence is None:
        return marker
    if marker.startswith(fence[0]) and len(marker) >= len(fence):
        return None
    return fence


def _block_starts(before: str, after: str) -> bool:
    """Whether a blank line between `before` (the last line with text above it) and
    `after` ends a block: not inside a loose list, not before an indented line (a
    nested item or indented code would read as code on its own)."""
    if after[:1].isspace():
        return False
    return not (_LIST_ITEM.match(after) and (_LIST_ITEM.match(before) or before[:1].isspace()))


def seal_point(text: str) -> tuple[str, str] | None:
    """Split streamed Markdown into (finished, live), or None when there is no safe cut.

    Cuts only at line starts, preferring the latest blank line that ends a block
    outside code, then a line inside an open code fence (closed in the finished part
    and reopened in the live one). A list, table, quote or paragraph is cut inside
    only once the live text passes TEXT_CUT (its rendering would cost too much per
    update): at a line break (not between table rows), then a sentence end, then a
    space. Text with none of those (a server flooding one endless word) is cut at
    HARD_CUT whatever it is: without a cut the live block is re-parsed whole on every
    update, and a megabyte of one paragraph froze the app for minutes. A finished part
    that ends with a blank line ended a block; any other was cut inside one (the
    widget then joins the two without a gap).
    """
    blank = fence_line = soft = 0
    fence: tuple[str, str] | None = None  # (marker, opening line) of an open fence
    pos = 0
    before = ""  # the last line with text
    lines = text.splitlines(keepends=True)
    for n, line in enumerate(lines):
        complete = line.endswith("\n")
        if (marker := _next_fence(fence and fence[0], line)) != (fence and fence[0]):
            fence = None if marker is None else (marker, line if complete else line + "\n")
        start = pos
        pos += len(line)
        if not complete or n == len(lines) - 1:
            break  # the last line is still being written: it stays live
        after = lines[n + 1]
        if fence is not None and not _FENCE.match(line):
            fence_line = pos
        elif fence is None and not line.strip():
            if _block_starts(before, after):
                blank = pos
        elif fence is None and start > 0:
            in_table = line.lstrip().startswith("|") and after.lstrip().startswith("|")
            if not in_table and not after[:1].isspace():
                soft = pos
        if line.strip():
            before = line
    half = len(text) // 2
    if blank >= max(MIN_SEALED, half // 2):
        return text[:blank], text[blank:]
    if fence is not None and fence_line >= MIN_CODE_SEALED:
        marker, opening = fence
        return text[:fence_line] + marker + "\n", opening + text[fence_line:]
    if fence is None and len(text) >= TEXT_CUT:
        if soft >= MIN_SEALED:
            return text[:soft], text[soft:]
        sentence = text.rfind(". ", 0, len(text) - 1)
        if sentence + 1 >= MIN_SEALED:
            return text[: sentence + 1] + "\n", text[sentence + 2 :]
        space = text.rfind(" ", 0, len(text) - 1)
        if space >= max(MIN_SEALED, half):
            return text[:space] + "\n", text[space + 1 :]
    if len(text) >= HARD_CUT:
        cut = len(text) - 3 * SEAL_CHARS // 2
        if fence is not None:
            marker, opening = fence
            return text[:cut] + "\n" + marker + "\n", opening + text[cut:]
        return text[:cut] + "\n", text[cut:]
    return None


def hard_breaks(markdown: str) -> str:
    """Mark single newlines outside code as line breaks (two trailing spaces), so Rich
    breaks lines where the live widget's chat_markdown() parser does."""
    out: list[str] = []
    fence: str | None = None
    lines = markdown.split("\n")
    for n, line in enumerate(lines):
        if _FENCE.match(line):
            fence = _next_fence(fence, line)
        elif fence is None and line.strip() and n + 1 < len(lines) and lines[n + 1].strip():
            line = line.rstrip() + "  "
        out.append(line)
    return "\n".join(out)


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer:
    """Pygments' lexer for a fence's language, found once: Rich looks it up by name on
    every render, and a name it does not know (a model can write anything there) makes
    pygments try every lexer it has, a quarter of a streaming frame."""
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=True, tabsize=4)
    except ClassNotFound:
        return get_lexer_by_name("text", stripnl=False, ensurenl=True, tabsize=4)


class _CodeBlock(CodeBlock):
    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip()
        yield Syntax(code, _lexer(self.lexer_name), theme=self.theme, word_wrap=False, padding=1)


class ChatMarkdown(RichMarkdown):
    """Rich's Markdown, with each fence's lexer found once (see `_lexer`)."""

    elements = {**RichMarkdown.elements, "fence": _CodeBlock, "code_block": _CodeBlock}


def in_code(text: str) -> bool:
    """Whether `text` ends inside a code fence it opened."""
    fence: str | None = None
    for line in text.splitlines():
        fence = _next_fence(fence, line)
    return fence is not None


def _unfinished_fence_bare(markdown: str) -> str:
    """A fence whose opening line is still being written loses its language for now:
    "```pyt" is no lexer, and looking one up tries every lexer installed (plugins
    included), for each letter."""
    head, _, last = markdown.rpartition("\n")
    if m := _FENCE.match(last):
        return (head + "\n" if head else "") + last[: m.end()]
    return markdown


class StreamingMarkdown(Widget):
    """A Markdown answer being written: sealed lines, a live end, a footer, blank room.

    `write()` adds text; `footer` is the dim line under the text ("writing …"), drawn
    here so that it follows the text without a layout per line. `finish()` drops the
    footer and the room (for an answer kept in this form at its end).
    """

    DEFAULT_CSS = """
    StreamingMarkdown { height: auto; }
    """

    def __init__(self, text: str = "", footer: str = "", classes: str = "") -> None:
        """`text`: what the answer already says (one being continued)."""
        super().__init__(classes=classes)
        self._pieces: list[tuple[str, bool, bool]] = []  # (markdown, cut above, cut below)
        self._sealed: list[Strip] = []  # the pieces' lines at `_width`
        self._live = text
        self._live_reopened = False  # the live text starts inside a block that was cut
        self._tail: list[Strip] = []  # the live end's lines, then the footer
        self._shown_sealed = 0  # how many sealed lines the last update showed
        self._footer = footer
        self._width = 0
        self._rows = 0  # the height layout gives this widget: grows in steps
        self._room = True
        self._next_try = 0  # the live length at which sealing is tried again (0: the limit)
        self.repainted_lines = 0  # lines repainted since mounting (the tests read it)
        if len(text) >= SEAL_CHARS:
            self._seal()

    @property
    def pieces(self) -> list[str]:
        """The sealed pieces' Markdown, in order."""
        return [markdown for markdown, _, _ in self._pieces]

    @property
    def live(self) -> str:
        return self._live

    @property
    def footer(self) -> str:
        return self._footer

    def write(self, fragment: str) -> None:
        self._live += fragment
        if len(self._live) >= max(self._next_try, CODE_SEAL_CHARS):
            limit = CODE_SEAL_CHARS if in_code(self._live) else SEAL_CHARS
            if len(self._live) >= max(self._next_try, limit):
                self._seal()
        self._update()

    def set_footer(self, footer: str) -> None:
        if footer != self._footer:
            self._footer = footer
            self._update()

    def finish(self) -> None:
        """No footer and no room: the answer stays in this form, as tall as its text."""
        self._footer, self._room = "", False
        self._update()

    # -- rendering ---------------------------------------------------------------------
    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._rows

    def on_resize(self) -> None:
        if self.size.width and self.size.width != self._width:
            self._width = self.size.width
            self._sealed = [line for piece in self._pieces for line in self._render_piece(*piece)]
            self._tail, self._shown_sealed = [], len(self._sealed)
            self._rows = 0  # measured again for the new width
            self._update()

    def render_line(self, y: int) -> Strip:
        line = self._line(y, len(self._sealed), self._tail)
        return line if line is not None else Strip.blank(self.size.width, self.rich_style)

    def _line(self, y: int, sealed: int, tail: list[Strip]) -> Strip | None:
        if y < sealed:
            return self._sealed[y]
        y -= sealed
        return tail[y] if y < len(tail) else None

    def _render_piece(
        self, markdown: str, reopened: bool = False, cut: bool = False, live: bool = False
    ) -> list[Strip]:
        """The lines of one piece. Two pieces cut inside one block are joined without a
        gap: the blank row at the cut (a code block's padding, a list's opening line)
        goes, so the seam does not show; a piece that ended a block is followed by a
        blank line, as blocks are."""
        if not markdown.strip():
            return []
        if live:
            markdown = _unfinished_fence_bare(markdown)
        renderable = ChatMarkdown(hard_breaks(markdown), hyperlinks=False)
        visual = visualize(self, renderable, markup=False)
        lines = Visual.to_strips(self, visual, self._width, None, self.visual_style)
        if reopened and lines and not lines[0].text.strip():
            lines = lines[1:]
        if live:
            return lines
        if cut:
            return lines[:-1] if lines and not lines[-1].text.strip() else lines
        return [*lines, Strip.blank(self._width, self.rich_style)]

    def _footer_line(self) -> Strip:
        """The dim italic line under the text (Rich's Text.render drops a Text's own
        style, so the segment is made here)."""
        style = self.rich_style + Style(italic=True, dim=True)
        return Strip([Segment(self._footer, style)]).crop(0, self._width)

    def _seal(self) -> None:
        cut = seal_point(self._live)
        if cut is None:  # nowhere to cut yet: try again a little later
            self._next_try = len(self._live) + CODE_SEAL_CHARS // 2
            return
        finished, rest = cut
        joined = not finished.endswith("\n\n")  # cut inside a block, not after one
        piece = (finished, self._live_reopened, joined)
        self._pieces.append(piece)
        if self._width:
            self._sealed += self._render_piece(*piece)
        self._live, self._live_reopened = rest, joined
        self._next_try = 0

    def _update(self) -> None:
        """Render the live end again and repaint only the lines that changed."""
        if not self._width:
            return  # not laid out yet: on_resize renders everything
        old_sealed, old_tail = self._shown_sealed, self._tail
        self._shown_sealed = len(self._sealed)
        tail = self._render_piece(self._live, self._live_reopened, live=True)
        if self._footer:
            tail.append(self._footer_line())
        self._tail = tail
        needed = len(self._sealed) + len(tail)
        if needed > self._rows or not self._room:
            step = max(4, self.screen.size.height // ROOM_SHARE) if self._room else 0
            self._rows = needed + step
            self.refresh(layout=True)
            return
        new_sealed = len(self._sealed)

        def same(y: int) -> bool:
            return self._line(y, old_sealed, old_tail) == self._line(y, new_sealed, tail)

        first = old_sealed  # the sealed lines before it never change
        end = max(old_sealed + len(old_tail), needed)
        while first < end and same(first):
            first += 1
        while end > first and same(end - 1):
            end -= 1
        if first < end:
            self.repainted_lines += end - first
            self.refresh(Region(0, first, self._width, end - first))
