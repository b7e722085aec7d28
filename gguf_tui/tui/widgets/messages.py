"""One widget per message of the conversation.

An assistant message streams: reasoning into a collapsible section, the answer
into a Markdown widget through a `SealingStream` (Textual's `MarkdownStream`
re-parses only the last block; the sealing keeps the live widget small, so a
token costs about the same at token 4,000 as at 200), then one full render when
the answer ends so code blocks come out right.
"""

from __future__ import annotations

from urllib.parse import urlparse

from markdown_it import MarkdownIt
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Collapsible, Markdown, Static

from gguf_tui.engine.events import GenerationStats
from gguf_tui.store.records import Message
from gguf_tui.tui.text import literal
from gguf_tui.tui.widgets.sealed_stream import SealingStream

REASON_LABELS = {
    "stopped": "stopped",
    "context": "stopped: context full",
    "length": "cut at the token limit",
}
EMPTY_LABELS = {  # how an answer ended that has no token at all
    "stopped": "stopped before the first token",
    "context": "stopped: context full before the first token",
    "length": "cut at the token limit before the first token",
}


def _hard_breaks(state) -> None:
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"


def chat_markdown() -> MarkdownIt:
    """Markdown as chat models write it: a single newline is a line break (poems,
    lists without blank lines, addresses), not a space as in strict CommonMark.
    HTML is text: the widget would drop `<script>` or `<br>` silently."""
    parser = MarkdownIt("gfm-like", {"html": False})
    parser.core.ruler.push("hard_breaks", _hard_breaks)
    return parser


def stats_line(message: Message) -> str:
    """Model, quantization and the figures of one answer."""
    parts = []
    if message.model_file:
        parts.append(literal(message.model_file))
    if message.quant:
        parts.append(literal(message.quant))
    stats = GenerationStats.from_dict(message.stats) if message.stats else None
    if stats is not None and not stats.generated_tokens and not message.content.strip():
        # Nothing was written: "0 tok · first token 0 ms" would be figures of nothing.
        ended = EMPTY_LABELS.get(message.finish_reason or "", "no text: the model ended at once")
        return " · ".join([*parts, ended])
    if stats is not None:
        parts.append(f"{stats.generated_tokens} tok")
        if stats.generation_tokens_per_second:
            parts.append(f"{stats.generation_tokens_per_second:.1f} tok/s")
        if stats.generated_tokens:
            parts.append(stats.first_token_text())
    if continued := (message.stats or {}).get("continued"):
        parts.append("continued" if continued == 1 else f"continued {continued}×")
    if label := REASON_LABELS.get(message.finish_reason or ""):
        parts.append(label)
    elif message.finish_reason is None:
        parts.append("interrupted: the app closed while this was written")
    return " · ".join(parts)


Versions = tuple[int, int] | None  # (this one's place from 1, how many), None: the only one


def version_label(versions: Versions) -> str:
    """`‹ 2/3 ›`: which version of a message this is, where it has others."""
    return f"‹ {versions[0]}/{versions[1]} ›" if versions else ""


class UserMessage(Static):
    """What the user wrote, shown exactly as typed (and which version it is)."""

    DEFAULT_CLASSES = "message user"

    def __init__(self, message: Message, versions: Versions = None) -> None:
        shown = Text(literal(message.content))
        if versions:
            shown.append(f"\n{version_label(versions)}", style="dim")
        super().__init__(shown, markup=False)
        self.message = message
        self.versions = versions


class SystemMessage(Static):
    DEFAULT_CLASSES = "message system"

    def __init__(self, message: Message, versions: Versions = None) -> None:
        super().__init__("System: " + literal(message.content), markup=False)
        self.message = message
        self.versions = versions


WHOLE_RENDER_MAX = 200_000  # characters: a longer streamed answer keeps its sealed parts
ROOM_SHARE = 3  # a streaming answer keeps a third of the view blank below its text


class AssistantMessage(Vertical):
    """An answer: optional reasoning, the Markdown text, and a line of stats."""

    DEFAULT_CLASSES = "message assistant"

    def __init__(
        self, message: Message, streaming: bool = False, versions: Versions = None
    ) -> None:
        super().__init__()
        self.message = message
        self.streaming = streaming
        self.versions = versions
        self._text = message.content
        self._reasoning = message.reasoning
        self._stream: SealingStream | None = None
        self._reasoning_stream: SealingStream | None = None

    def compose(self) -> ComposeResult:
        # A finished answer without reasoning has no section for it: three widgets
        # fewer to mount, style and lay out for each answer a conversation opens with.
        if self.streaming or self._reasoning:
            with Collapsible(title="Reasoning", collapsed=not self.streaming, classes="reasoning"):
                yield Markdown(
                    literal(self._reasoning),
                    classes="reasoning-text",
                    parser_factory=chat_markdown,
                    open_links=False,
                )
        yield Markdown(
            literal(self._text), classes="answer", parser_factory=chat_markdown, open_links=False
        )
        yield Static(self._stats(), classes="stats", markup=False)

    def _stats(self, text: str | None = None) -> str:
        """The stats line, after the version marker where the answer has others."""
        line = stats_line(self.message) if text is None else text
        return " · ".join(p for p in (version_label(self.versions), line) if p)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        """A model wrote this link: open web links only (never file:, javascript: …)."""
        event.stop()
        if urlparse(event.href).scheme in ("http", "https"):
            self.app.open_url(event.href)
        else:
            self.notify(
                f"Not opening {event.href[:80]}: only http(s) links open from answers.",
                severity="warning",
            )

    def on_mount(self) -> None:
        for collapsible in self.query(Collapsible):
            collapsible.display = bool(self._reasoning)
        if self.streaming:
            self.add_class("streaming")
            self.query_one(".stats", Static).update(self._stats("writing …"))

    @property
    def text(self) -> str:
        return self._text

    @property
    def reasoning(self) -> str:
        return self._reasoning

    async def append_reasoning(self, chunk: str) -> None:
        collapsible = self.query_one(Collapsible)
        if not collapsible.display:
            collapsible.display = True
            collapsible.collapsed = False
        if self._reasoning_stream is None:  # (a continued answer already shows some)
            self._reasoning_stream = SealingStream(
                self.query_one(".reasoning-text", Markdown), literal(self._reasoning)
            )
        self._reasoning += chunk
        await self._reasoning_stream.write(literal(chunk))
        self._keep_room()

    async def append_text(self, chunk: str) -> None:
        if not self._text and self._reasoning:
            self.query_one(Collapsible).collapsed = True  # the answer has started
        if self._stream is None:  # (a continued answer already shows some)
            self._stream = SealingStream(self.query_one(".answer", Markdown), literal(self._text))
        self._text += chunk
        await self._stream.write(literal(chunk))
        self._keep_room()

    def _keep_room(self) -> None:
        """Grow the streaming answer in steps of a third of the view, not a line at a time.

        Each change of an answer's height changes the conversation's virtual size, and
        Textual then repaints the whole scrolled region (measured: a full 120x40 frame,
        ~40 ms and ~2 KB to the terminal per token at 100 tok/s). With blank room
        kept below the text, the height changes once per third of a screen and the frames
        between repaint only the block being written (measured at 120x40, 100 tok/s:
        0.35 -> 0.25 of a core, 2.3 -> 1.5 KB to the terminal per token)."""
        view = self.parent.size.height if isinstance(self.parent, Widget) else 0
        step = max(4, view // ROOM_SHARE)
        used = sum(c.outer_size.height for c in self.children if c.display)
        room = self.styles.min_height
        have = int(room.value) if room is not None else 0
        if used + 2 > have:
            self.styles.min_height = used + step

    async def finish(self, message: Message) -> None:
        """The answer ended: one full render (code blocks right), then the stats.

        An answer over WHOLE_RENDER_MAX characters that arrived as it is saved keeps
        its streamed (sealed) rendering instead: rendering it whole again would hold
        the app for seconds right after the user pressed stop."""
        keep = (
            self._stream is not None
            and len(self._text) > WHOLE_RENDER_MAX
            and (self._text, self._reasoning) == (message.content, message.reasoning)
        )
        for stream in (self._stream, self._reasoning_stream):
            if stream is not None:
                await stream.stop()
                if not keep:
                    await stream.unseal()
        self._stream = self._reasoning_stream = None
        self.message = message
        self.streaming = False
        self.styles.min_height = None  # the room kept for the stream goes
        self.remove_class("streaming")
        self._text, self._reasoning = message.content, message.reasoning
        if not keep:
            await self.query_one(".answer", Markdown).update(literal(self._text))
            if self._reasoning:
                await self.query_one(".reasoning-text", Markdown).update(literal(self._reasoning))
        if self._reasoning:
            self.query_one(Collapsible).collapsed = True
        self.query_one(".stats", Static).update(self._stats())

    def show_error(self, text: str) -> None:
        self.add_class("error")
        self.query_one(".stats", Static).update(text)


MessageWidget = UserMessage | SystemMessage | AssistantMessage  # each holds its `message`


def message_widget(message: Message, versions: Versions = None) -> MessageWidget:
    if message.role == "assistant":
        return AssistantMessage(message, versions=versions)
    if message.role == "system":
        return SystemMessage(message, versions)
    return UserMessage(message, versions)
