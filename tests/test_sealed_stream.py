"""Streaming long answers: finished blocks are sealed so the live widget stays small."""

from __future__ import annotations

import itertools

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from gguf_tui.tui.widgets.messages import AssistantMessage
from gguf_tui.tui.widgets.sealed_stream import (
    HARD_CUT,
    SEAL_CHARS,
    TEXT_CUT,
    StreamingMarkdown,
    hard_breaks,
    seal_point,
)
from tests.support.fake_engine import FakeEngine
from tests.support.tui import make_app, type_and_send, wait_idle, wait_until

PARA = "Some words of a paragraph that goes on for a while. " * 5


def test_seal_point_prefers_the_last_blank_line():
    text = (PARA + "\n\n") * 4 + "The live tail"
    finished, live = seal_point(text)
    assert finished == (PARA + "\n\n") * 4 and live == "The live tail"


def test_seal_point_keeps_the_last_line_live():
    text = (PARA + "\n\n") * 4
    finished, live = seal_point(text)
    assert finished + live == text and live == PARA + "\n\n"


def test_seal_point_closes_and_reopens_an_open_code_fence():
    code = "".join(f"    x = compute({i})\n" for i in range(30))
    text = "Intro.\n\n```python\n" + code + "    y ="
    finished, live = seal_point(text)
    assert finished.endswith(code + "```\n") and finished.startswith("Intro.")
    assert live == "```python\n    y ="


def test_a_closed_fence_is_not_reopened():
    code = "".join(f"x = {i}\n" for i in range(40))
    text = "```\n" + code + "```\n\n" + "After the code.\n" + "More"
    finished, live = seal_point(text)
    assert finished.endswith("```\n\n") and live == "After the code.\nMore"


def test_seal_point_splits_a_long_paragraph_at_a_line_or_a_sentence_only_when_long():
    """Inside a paragraph (or list, or table) a cut is a seam: only past TEXT_CUT, and
    marked as inside a block (no blank line after the finished part)."""
    lines = "".join(f"line {i} of one paragraph\n" for i in range(20)) + "tail"
    assert len(lines) < TEXT_CUT and seal_point(lines) is None
    lines = "".join(f"line {i} of one paragraph\n" for i in range(80)) + "tail"
    finished, live = seal_point(lines)
    assert live == "tail" and finished.endswith("paragraph\n") and not finished.endswith("\n\n")
    one_line = "A sentence that is long enough. " * 60 + "and the rest"
    finished, live = seal_point(one_line)
    assert finished.endswith("enough.\n") and live.endswith("and the rest")


def test_seal_point_keeps_lists_and_tables_whole():
    """A loose list is not cut between its items, nor before an indented line (a nested
    item alone would read as indented code), nor a table between its rows."""
    loose = "".join(f"- item {i} with some words in it\n\n" for i in range(20)) + "- last"
    assert seal_point(loose) is None
    nested = "".join(f"- outer {i} words words\n\n    - inner {i}a\n\n" for i in range(8))
    assert seal_point(nested + "- last") is None
    table = "| a | b |\n| --- | --- |\n" + "".join(f"| {i} | x |\n" for i in range(300))
    cut = seal_point(table + "| end")
    assert cut is None or (cut[0].endswith("\n") and not cut[1].startswith("| 1"))
    prose = "A paragraph of words.\n\n" * 30 + "- a list after it\n- more"
    finished, live = seal_point(prose)
    assert finished.endswith("words.\n\n") and live.startswith("- a list")


def test_sealed_text_keeps_single_newlines_as_line_breaks_outside_code():
    text = "roses are red\nviolets are blue\n\n```\ncode\nmore\n```\n- a\n- b"
    assert hard_breaks(text) == (
        "roses are red  \nviolets are blue\n\n```\ncode\nmore\n```\n- a  \n- b"
    )


def test_short_text_is_not_sealed():
    assert seal_point("Hello.\n\nWorld") is None
    assert seal_point("") is None


async def test_a_long_answer_streams_with_a_small_live_end_and_ends_whole(tmp_path):
    paragraphs = [f"Paragraph {i}. " + PARA for i in range(60)]
    script = []
    for p in paragraphs:
        words = p.split()
        script += [w + " " for w in words[:-1]] + [words[-1] + "\n\n"]
    total = len("".join(script))
    engine = FakeEngine(script=script, delay=0.0005)
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(100, 40)) as pilot:
        await type_and_send(pilot, "Write a lot.")
        screen = app.chat_screen
        longest = 0

        def sealed_and_measured() -> bool:
            nonlocal longest
            reply = screen.reply
            if reply is None:
                return True
            stream = reply.widget.query_one(".answer-stream", StreamingMarkdown)
            longest = max(longest, len(stream.live))
            return bool(stream.pieces) and len(reply.widget.text) > total / 2

        await wait_until(pilot, sealed_and_measured, 60, "sealing")
        assert screen.reply is not None, "the answer ended before anything was sealed"
        stream = screen.reply.widget.query_one(".answer-stream", StreamingMarkdown)
        assert "Paragraph 0." in stream.pieces[0]
        assert longest < 2 * SEAL_CHARS + len(PARA)  # the live end stays small
        await wait_idle(pilot)
        widget = screen.view.query(AssistantMessage).last()
        assert not widget.query(StreamingMarkdown)  # the finished answer is rendered whole
        blocks = widget.query_one(".answer", Markdown).children
        assert len(blocks) == len(paragraphs)
        saved = app.store.messages(screen.conversation_id)[-1].content
        assert saved == "".join(script)


async def test_a_long_code_block_streams_in_parts_and_ends_as_one(tmp_path):
    script = ["```python\n"] + [f"value_{i} = compute({i})\n" for i in range(400)] + ["```\n"]
    app = make_app(tmp_path, engine=FakeEngine(script=script, delay=0.0005))
    async with app.run_test(size=(100, 40)) as pilot:
        await type_and_send(pilot, "Write code.")
        screen = app.chat_screen

        def sealed() -> bool:
            reply = screen.reply
            return reply is None or bool(reply.widget.query_one(".answer-stream").pieces)

        await wait_until(pilot, sealed, 60, "sealing")
        if screen.reply is not None:
            part = screen.reply.widget.query_one(".answer-stream", StreamingMarkdown).pieces[0]
            assert part.startswith("```python\nvalue_0") and part.endswith("```\n")
        await wait_idle(pilot)
        widget = screen.view.query(AssistantMessage).last()
        assert not widget.query(StreamingMarkdown)
        (fence,) = widget.query_one(".answer", Markdown).children
        assert "value_399" in app.store.messages(screen.conversation_id)[-1].content
        assert type(fence).__name__ == "MarkdownFence"


def test_an_endless_paragraph_without_sentences_is_cut_at_a_word():
    text = "flood " * 400 + "tail"
    finished, live = seal_point(text)
    assert finished.endswith("flood\n") and live == "tail"


def test_an_endless_word_is_cut_hard_so_the_live_block_stays_small():
    assert seal_point("x" * (HARD_CUT - 1)) is None
    finished, live = seal_point("x" * HARD_CUT)
    assert len(live) == 3 * SEAL_CHARS // 2 and finished.rstrip("\n") + live == "x" * HARD_CUT
    code = "```\n" + "y" * HARD_CUT
    finished, live = seal_point(code)
    assert finished.endswith("\n```\n") and live.startswith("```\n")


async def test_a_streaming_answer_grows_in_steps_of_room_and_gives_it_back_at_the_end(tmp_path):
    """The answer keeps blank room below its text while it streams, so its height (and the
    conversation's virtual size, which repaints the whole view) changes every few lines,
    not on every line; the room goes when the answer ends."""
    script = [f"line {i} of a long answer\n\n" for i in range(40)]
    app = make_app(tmp_path, engine=FakeEngine(script=script, delay=0.1))
    async with app.run_test(size=(100, 40)) as pilot:
        await type_and_send(pilot, "Write lines.")
        screen = app.chat_screen
        heights: list[int] = []
        texts: set[int] = set()

        def sample() -> bool:
            reply = screen.reply
            if reply is None:
                return True
            heights.append(reply.widget.outer_size.height)
            texts.add(len(reply.widget.text))
            return False

        await wait_until(pilot, sample, 60, "the answer to end")
        changes = sum(1 for a, b in itertools.pairwise(heights) if a != b)
        assert len(texts) > 10, "too few frames sampled to judge"
        assert changes < len(texts) / 2, (changes, len(texts))
        await wait_idle(pilot)
        widget = screen.view.query(AssistantMessage).last()
        assert not widget.query(StreamingMarkdown)
        used = sum(c.outer_size.height for c in widget.children if c.display)
        assert widget.outer_size.height <= used + 2  # no room left below the text


class _Streaming(App):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield StreamingMarkdown(footer="writing …")


async def test_a_token_repaints_only_the_lines_it_changed():
    """Adding to the last line repaints that line (and the footer's move), not the answer:
    what was written before is neither rendered nor sent to the terminal again."""
    app = _Streaming()
    async with app.run_test(size=(80, 40)) as pilot:
        stream = app.query_one(StreamingMarkdown)
        stream.write("".join(f"Line {i} of the answer, one after another.\n" for i in range(12)))
        await pilot.pause()
        before = stream.repainted_lines
        stream.write("more")
        await pilot.pause()
        assert 1 <= stream.repainted_lines - before <= 2
        before = stream.repainted_lines
        stream.write(" words")  # the same line grows: one line
        assert stream.repainted_lines - before == 1


async def test_a_code_block_cut_while_streaming_shows_no_seam():
    """The fence closed above a cut and reopened below it would draw the code block's
    padding twice in the middle; the rows of the cut are dropped, so the streamed block
    has exactly the rows of the same block rendered whole."""
    code = "```python\n" + "".join(f"x_{i} = {i} * 31 % 65521\n" for i in range(30)) + "```\n"
    app = _Streaming()
    async with app.run_test(size=(80, 60)) as pilot:
        stream = app.query_one(StreamingMarkdown)
        for i in range(0, len(code), 7):
            stream.write(code[i : i + 7])
            await pilot.pause()
        assert len(stream.pieces) >= 3  # cut in the middle more than once
        streamed = [stream.render_line(y).text.rstrip() for y in range(60)]
        whole = StreamingMarkdown()
        whole._width = stream._width
        app.query_one(VerticalScroll).mount(whole)
        await pilot.pause()
        rows = [line.text.rstrip() for line in whole._render_piece(code, live=True)]
        assert streamed[: len(rows)] == rows


def test_a_fence_whose_language_is_still_being_written_is_not_looked_up():
    from gguf_tui.tui.widgets.sealed_stream import _unfinished_fence_bare

    assert _unfinished_fence_bare("Text\n```pyt") == "Text\n```"
    assert _unfinished_fence_bare("```python\ncode") == "```python\ncode"


async def test_reasoning_carries_the_footer_and_the_room_until_the_answer_starts(tmp_path):
    """While the model reasons, its reasoning is the stream being written: "writing …" and
    the blank room follow it (an empty answer below with room of its own pushed the
    reasoning off the view); the answer takes both over when it starts."""
    engine = FakeEngine(reasoning=["Thinking it over. "] * 30, script=["The answer."], delay=0.02)
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await type_and_send(pilot, "Think.")
        screen = app.chat_screen

        def reasoning_shown() -> bool:
            reply = screen.reply
            return reply is not None and len(reply.widget.reasoning) > 100

        await wait_until(pilot, reasoning_shown, 30, "reasoning to stream")
        assert screen.reply is not None
        reasoning = screen.reply.widget.query_one(".reasoning-stream", StreamingMarkdown)
        answer = screen.reply.widget.query_one(".answer-stream", StreamingMarkdown)
        assert reasoning.footer.endswith("writing …") and not answer.display
        await wait_idle(pilot)
        widget = screen.view.query(AssistantMessage).last()
        assert widget.text == "The answer." and widget.reasoning.startswith("Thinking")
        assert not widget.query(StreamingMarkdown)
