"""Stream Markdown whose cost per token does not grow with the length of the answer.

Textual's `MarkdownStream` re-parses only the last block, but two costs still
grow with the answer (measured in bench/render_scaling.py):
- every block is a widget, and each frame's layout walks all of them (283
  widgets and 37 ms a frame at 4,000 tokens of prose);
- the last block is re-rendered whole on every update: a long code block is
  re-highlighted, a long paragraph re-wrapped, line by line.

So the finished start of the answer is *sealed*: moved out of the live Markdown
widget into a `Static` holding a Rich Markdown renderable (one widget per 8,000
characters, redrawn only when a part is added), and the live widget keeps only
the last few blocks. A code block or paragraph that grows too
long is cut at a line (the fence closed above, reopened below). The seams only
show while streaming: when the answer ends, the message renders it whole again.
"""

from __future__ import annotations

import re

from rich.markdown import Markdown as RichMarkdown
from textual.widget import Widget
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

SEAL_BLOCKS = 6  # live blocks that trigger sealing
SEAL_CHARS = 1200  # or live characters (a long code block or paragraph)
MIN_SEALED = 200  # not worth a widget below this
HARD_CUT = 4 * SEAL_CHARS  # live text with no line, sentence or word to cut at is cut here
PART_CHARS = 8000  # sealed text per widget: bounds both the widgets and each re-render
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def seal_point(text: str) -> tuple[str, str] | None:
    """Split streamed Markdown into (finished, live), or None when there is no safe cut.

    Cuts only at line starts, preferring the latest blank line outside code, then a
    line inside an open code fence (closed in the finished part and reopened in the
    live one), then a line break inside a paragraph, then a sentence end, then a space.
    Text with none of those (a server flooding one endless word) is cut at HARD_CUT
    whatever it is: without a cut the live block is re-parsed whole on every update,
    and a megabyte of one paragraph froze the app for minutes.
    """
    blank = fence_line = soft = 0
    fence: tuple[str, str] | None = None  # (marker, opening line) of an open fence
    pos = 0
    lines = text.splitlines(keepends=True)
    for n, line in enumerate(lines):
        complete = line.endswith("\n")
        if m := _FENCE.match(line):
            marker = m.group(1)
            if fence is None:
                fence = (marker, line if complete else line + "\n")
            elif marker.startswith(fence[0][0]) and len(marker) >= len(fence[0]):
                fence = None
        start = pos
        pos += len(line)
        if not complete or n == len(lines) - 1:
            break  # the last line is still being written: it stays live
        if fence is not None and not _FENCE.match(line):
            fence_line = pos
        elif fence is None and not line.strip():
            blank = pos
        elif fence is None and start > 0:
            soft = pos
    half = len(text) // 2
    if blank >= max(MIN_SEALED, half // 2):
        return text[:blank], text[blank:]
    if fence is not None and fence_line >= MIN_SEALED:
        marker, opening = fence
        return text[:fence_line] + marker + "\n", opening + text[fence_line:]
    if soft >= MIN_SEALED and fence is None:
        return text[:soft] + "\n", text[soft:]
    if fence is None:
        sentence = text.rfind(". ", 0, len(text) - 1)
        if sentence + 1 >= MIN_SEALED:
            return text[: sentence + 1] + "\n\n", text[sentence + 2 :]
        space = text.rfind(" ", 0, len(text) - 1)
        if space >= max(MIN_SEALED, half):
            return text[:space] + "\n\n", text[space + 1 :]
    if len(text) >= HARD_CUT:
        cut = len(text) - SEAL_CHARS // 2
        if fence is not None:
            marker, opening = fence
            return text[:cut] + "\n" + marker + "\n", opening + text[cut:]
        return text[:cut] + "\n\n", text[cut:]
    return None


def hard_breaks(markdown: str) -> str:
    """Mark single newlines outside code as line breaks (two trailing spaces), so Rich
    breaks lines where the live widget's chat_markdown() parser does."""
    out, fence = [], None
    lines = markdown.split("\n")
    for n, line in enumerate(lines):
        if m := _FENCE.match(line):
            marker = m.group(1)
            if fence is None:
                fence = marker
            elif marker.startswith(fence[0]) and len(marker) >= len(fence):
                fence = None
        elif fence is None and line.strip() and n + 1 < len(lines) and lines[n + 1].strip():
            line = line.rstrip() + "  "
        out.append(line)
    return "\n".join(out)


class SealedMarkdown(Static):
    """The finished start of a streaming answer: one widget, rendered once."""

    DEFAULT_CSS = """
    SealedMarkdown { height: auto; margin: 0 0 1 0; }
    """

    def __init__(self, markdown: str) -> None:
        super().__init__(RichMarkdown(hard_breaks(markdown), hyperlinks=False))
        self.markdown = markdown

    def extend(self, markdown: str) -> None:
        self.markdown += markdown
        self.update(RichMarkdown(hard_breaks(self.markdown), hyperlinks=False))


class SealingStream:
    """Like `Markdown.get_stream(live)`, but seals finished blocks (see above)."""

    def __init__(self, live: Markdown, text: str = "") -> None:
        """`text`: what `live` already shows (an answer being continued)."""
        self.live = live
        self.sealed: list[SealedMarkdown] = []
        self._stream: MarkdownStream = Markdown.get_stream(live)
        self._text = text  # what the live widget holds
        self._next_try = SEAL_CHARS

    async def write(self, fragment: str) -> None:
        self._text += fragment
        await self._stream.write(fragment)
        many = len(self.live.children) > SEAL_BLOCKS and len(self._text) >= MIN_SEALED * 2
        if many or len(self._text) >= self._next_try:
            await self._seal()

    async def _seal(self) -> None:
        cut = seal_point(self._text)
        if cut is None:
            self._next_try = len(self._text) + SEAL_CHARS // 2
            return
        finished, rest = cut
        await self._stream.stop()
        old = self.live
        # The same parser (the chat's line breaks, no HTML) and the same classes.
        factory = getattr(old, "_parser_factory", None)
        new = Markdown(parser_factory=factory, classes=" ".join(old.classes), open_links=False)
        last = self.sealed[-1] if self.sealed else None
        parent = old.parent
        assert isinstance(parent, Widget)  # a mounted Markdown widget lives in a widget
        with old.app.batch_update():
            if last is not None and len(last.markdown) + len(finished) <= PART_CHARS:
                last.extend(finished)
            else:
                self.sealed.append(SealedMarkdown(finished))
                await parent.mount(self.sealed[-1], before=old)
            await parent.mount(new, after=old)
            await old.remove()
        self.live, self._text, self._next_try = new, "", SEAL_CHARS
        self._stream = Markdown.get_stream(new)
        if rest:
            self._text = rest
            await self._stream.write(rest)

    async def stop(self) -> None:
        """End the stream; the sealed parts stay until `unseal()`."""
        await self._stream.stop()

    async def unseal(self) -> None:
        """Remove the sealed parts (the caller renders the whole text into `live`)."""
        for part in self.sealed:
            await part.remove()
        self.sealed.clear()
