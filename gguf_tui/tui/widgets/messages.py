"""One widget per message of the conversation.

An assistant message streams: reasoning into a collapsible section, the answer
below it, each into a `StreamingMarkdown` (sealed_stream.py: a token costs about
the same at token 4,000 as at 200, and repaints only the lines it changed), then
one full render as Textual Markdown when the answer ends (links, selection, code
blocks whole).
"""

from __future__ import annotations

from urllib.parse import urlparse

from markdown_it import MarkdownIt
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Markdown, Static

from gguf_tui.engine.events import GenerationStats
from gguf_tui.store.records import Message
from gguf_tui.tui.text import literal
from gguf_tui.tui.widgets.sealed_stream import StreamingMarkdown

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


WHOLE_RENDER_MAX = 200_000  # characters: a longer streamed answer keeps its streamed form


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

    def compose(self) -> ComposeResult:
        # A finished answer without reasoning has no section for it: three widgets
        # fewer to mount, style and lay out for each answer a conversation opens with.
        # While streaming, the Markdown widgets wait empty and hidden for the end.
        streaming = self.streaming
        if streaming or self._reasoning:
            with Collapsible(title="Reasoning", collapsed=not streaming, classes="reasoning"):
                yield self._markdown("" if streaming else self._reasoning, "reasoning-text")
                if streaming:
                    yield StreamingMarkdown(literal(self._reasoning), classes="reasoning-stream")
        yield self._markdown("" if streaming else self._text, "answer")
        if streaming:
            yield StreamingMarkdown(literal(self._text), classes="answer-stream")
        yield Static(self._stats(), classes="stats", markup=False)

    def _markdown(self, text: str, classes: str) -> Markdown:
        markdown = Markdown(
            literal(text), classes=classes, parser_factory=chat_markdown, open_links=False
        )
        markdown.display = not self.streaming
        return markdown

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
            # "writing …" is drawn by the stream, right under the text (no layout per line).
            self.query_one(".stats", Static).display = False
            self._streams()[1].set_footer(self._stats("writing …"))

    def _streams(self) -> tuple[StreamingMarkdown, StreamingMarkdown]:
        """(reasoning, answer) of a streaming answer."""
        return (
            self.query_one(".reasoning-stream", StreamingMarkdown),
            self.query_one(".answer-stream", StreamingMarkdown),
        )

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
        reasoning, answer = self._streams()
        if not self._text and answer.display:
            # Reasoning first: it is the stream being written, so it carries the footer
            # and the room; the empty answer below it waits hidden.
            answer.display = False
            reasoning.set_footer(answer.footer)
        self._reasoning += chunk
        reasoning.write(literal(chunk))

    async def append_text(self, chunk: str) -> None:
        reasoning, answer = self._streams()
        if not answer.display:  # the answer starts after the reasoning: it takes over
            self.query_one(Collapsible).collapsed = True
            answer.display = True
            reasoning.finish()
        self._text += chunk
        answer.write(literal(chunk))

    async def finish(self, message: Message) -> None:
        """The answer ended: one full render (code blocks right), then the stats.

        The whole render is built while the stream is still on screen and swapped in
        within one frame (removing the stream first showed no answer for a few frames
        and let the view jump). An answer over WHOLE_RENDER_MAX characters that arrived
        as it is saved keeps its streamed form instead: rendering it whole again would
        hold the app for seconds right after the user pressed stop."""
        keep = (
            self.streaming
            and len(self._text) > WHOLE_RENDER_MAX
            and (self._text, self._reasoning) == (message.content, message.reasoning)
        )
        streams = self._streams() if self.streaming else ()
        self.message = message
        self._text, self._reasoning = message.content, message.reasoning
        answer = self.query_one(".answer", Markdown)
        if not keep:
            await answer.update(literal(self._text))
            if self._reasoning:
                await self.query_one(".reasoning-text", Markdown).update(literal(self._reasoning))
        with self.app.batch_update():
            for stream in streams:
                if keep:
                    stream.finish()
                else:
                    await stream.remove()
            if not keep:
                answer.display = True
                for reasoning in self.query(".reasoning-text"):
                    reasoning.display = True
            self.streaming = False
            self.remove_class("streaming")
            if self._reasoning:
                self.query_one(Collapsible).collapsed = True
            stats = self.query_one(".stats", Static)
            stats.update(self._stats())
            stats.display = True

    def show_error(self, text: str) -> None:
        self.add_class("error")
        if self.streaming:  # (an answer that failed before its first token)
            for stream in self._streams():
                stream.set_footer("")
        stats = self.query_one(".stats", Static)
        stats.update(text)
        stats.display = True


MessageWidget = UserMessage | SystemMessage | AssistantMessage  # each holds its `message`


def message_widget(message: Message, versions: Versions = None) -> MessageWidget:
    if message.role == "assistant":
        return AssistantMessage(message, versions=versions)
    if message.role == "system":
        return SystemMessage(message, versions)
    return UserMessage(message, versions)
