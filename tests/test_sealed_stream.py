"""Streaming long answers: finished blocks are sealed so the live widget stays small."""

from __future__ import annotations

import itertools

from textual.widgets import Markdown

from gguf_tui.tui.widgets.messages import AssistantMessage
from gguf_tui.tui.widgets.sealed_stream import (
    SEAL_BLOCKS,
    SealedMarkdown,
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


def test_seal_point_splits_a_long_paragraph_at_a_line_or_a_sentence():
    lines = "".join(f"line {i} of one paragraph\n" for i in range(20)) + "tail"
    finished, live = seal_point(lines)
    assert live == "tail" and finished.endswith("paragraph\n\n")
    one_line = "A sentence that is long enough. " * 20 + "and the rest"
    finished, live = seal_point(one_line)
    assert finished.endswith("enough.\n\n") and live.endswith("and the rest")


def test_sealed_text_keeps_single_newlines_as_line_breaks_outside_code():
    text = "roses are red\nviolets are blue\n\n```\ncode\nmore\n```\n- a\n- b"
    assert hard_breaks(text) == (
        "roses are red  \nviolets are blue\n\n```\ncode\nmore\n```\n- a  \n- b"
    )


def test_short_text_is_not_sealed():
    assert seal_point("Hello.\n\nWorld") is None
    assert seal_point("") is None


async def test_a_long_answer_streams_with_few_live_blocks_and_ends_whole(tmp_path):
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
        widest = 0

        def sealed_and_counted() -> bool:
            nonlocal widest
            reply = screen.reply
            if reply is None:
                return True
            live = reply.widget.query_one(".answer", Markdown)
            widest = max(widest, len(live.children))
            return bool(reply.widget.query(SealedMarkdown)) and len(reply.widget.text) > total / 2

        await wait_until(pilot, sealed_and_counted, 60, "sealing")
        assert screen.reply is not None, "the answer ended before anything was sealed"
        sealed = screen.reply.widget.query(SealedMarkdown)
        assert "Paragraph 0." in sealed.first().markdown
        live = screen.reply.widget.query_one(".answer", Markdown)
        assert live._parser_factory is not None  # the chat's own Markdown flavour
        assert widest <= SEAL_BLOCKS + 2
        await wait_idle(pilot)
        widget = screen.view.query(AssistantMessage).last()
        assert not widget.query(SealedMarkdown)  # the finished answer is rendered whole
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
        await wait_until(
            pilot,
            lambda: screen.reply is None or bool(screen.reply.widget.query(SealedMarkdown)),
            60,
            "sealing",
        )
        if screen.reply is not None:
            part = screen.reply.widget.query(SealedMarkdown).first()
            assert part.markdown.startswith("```python\nvalue_0") and part.markdown.endswith(
                "```\n"
            )
        await wait_idle(pilot)
        widget = screen.view.query(AssistantMessage).last()
        assert not widget.query(SealedMarkdown)
        (fence,) = widget.query_one(".answer", Markdown).children
        assert "value_399" in app.store.messages(screen.conversation_id)[-1].content
        assert type(fence).__name__ == "MarkdownFence"


def test_an_endless_paragraph_without_sentences_is_cut_at_a_word():
    text = "flood " * 400 + "tail"
    finished, live = seal_point(text)
    assert finished.endswith("flood\n\n") and live == "tail"


def test_an_endless_word_is_cut_hard_so_the_live_block_stays_small():
    from gguf_tui.tui.widgets.sealed_stream import HARD_CUT, SEAL_CHARS

    assert seal_point("x" * (HARD_CUT - 1)) is None
    finished, live = seal_point("x" * HARD_CUT)
    assert len(live) == SEAL_CHARS // 2 and finished.rstrip("\n") + live == "x" * HARD_CUT
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
        assert widget.styles.min_height is None
