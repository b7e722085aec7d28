"""Hostile text: model output and pasted prompts with markup, terminal escape sequences,
control characters, bidi overrides, combining marks, emoji split across tokens, and a
megabyte paste. Everything is shown literally, stored exactly, and the app keeps
answering keys.

Scripted output comes from tests/support/fake_engine.py; the paste into a real model
and the emoji decoding use SmolLM2 (its tokenizer splits emoji into byte tokens).
"""

from __future__ import annotations

import time

from textual import events

from gguf_tui.engine import Finished, Sampling, TextDelta
from gguf_tui.tui.text import literal
from gguf_tui.tui.widgets.messages import AssistantMessage, UserMessage
from tests.support.fake_engine import FakeEngine
from tests.support.spelled import spelled
from tests.support.tui import (
    make_app,
    notifications,
    screen_text,
    type_and_send,
    wait_idle,
    wait_until,
)

# One hostile item per line (a single newline is a line break in answers).
HOSTILE = [
    "[bold red]loud[/] [link=file:///etc/passwd]link[/link] [@click=app.quit]quit[/]\n",
    "\x1b[2J\x1b[31mred\x1b[0m\n",
    "\x1b]0;pwned-title\x07 \x1b]52;c;cHduZWQ=\x07\n",
    "\x1b]8;;https://evil.example\x1b\\osc-link\x1b]8;;\x1b\\ end\n",
    "nul\x00bel\x07bs\x08del\x7fcsi\x9b31m\n",
    "\u202eexe.txt\u202c \u2067isolated\u2069\n",
    "Z" + "\u0336\u0337" * 20 + "algo\n",
    "<script>alert(1)</script> a<br>b\n",
    # grapheme clusters split across deltas: a ZWJ family, a flag, e + combining acute
    "family 👨\u200d",
    "👩\u200d👧 flag 🇯",
    "🇵 cafe",
    "\u0301 end\n",
]
SEEN = [  # what the screen must show, each on one line
    "[bold red]loud[/] [link=file:///etc/passwd]link[/link] [@click=app.quit]quit[/]",
    "␛[2J␛[31mred␛[0m",
    "␛]0;pwned-title␇ ␛]52;c;cHduZWQ=␇",
    "␛]8;;https://evil.example␛\\osc-link␛]8;;␛\\ end",
    "nul␀bel␇bs␈del␡csi�31m",
    "⟨RLO⟩exe.txt⟨PDF⟩ ⟨RLI⟩isolated⟨PDI⟩",
    "algo",
    "<script>alert(1)</script> a<br>b",
    "family 👨\u200d👩\u200d👧 flag 🇯🇵 cafe\u0301 end",
]
RAW = ("\x1b", "\x9b", "\x07", "\x00", "\x08", "\u202e")
KEY_BOUND = 2.0  # seconds a key may take with a megabyte on screen (~0.1 s on an idle core)


def reaches_terminal(app) -> list[str]:
    """Raw control characters in what the app draws (they would reach the terminal)."""
    svg = app.export_screenshot()
    return [repr(c) for c in RAW if c in svg]


async def key_seconds(pilot, key: str = "x") -> float:
    """How long the prompt takes to show a typed key."""
    prompt = pilot.app.chat_screen.prompt
    prompt.focus()
    before = prompt.text
    started = time.monotonic()
    await pilot.press(key)
    await wait_until(pilot, lambda: prompt.text == before + key, 30, f"the key {key!r}")
    return time.monotonic() - started


async def test_hostile_model_output_is_shown_literally_and_stored_exactly(tmp_path):
    app = make_app(tmp_path, engine=FakeEngine(script=HOSTILE))
    async with app.run_test(size=(150, 50)) as pilot:
        await type_and_send(pilot, "go")
        await wait_idle(pilot)
        seen = screen_text(app)
        assert [s for s in SEEN if s not in seen] == []
        assert reaches_terminal(app) == []
        assert app.title == "gguf-tui" and app.is_running
        saved = app.store.messages(app.chat_screen.conversation_id)[-1]
        assert saved.content == "".join(HOSTILE)  # stored as the model wrote it
        answer = app.chat_screen.view.query(AssistantMessage).last()
        assert answer.text == "".join(HOSTILE)


async def test_a_hostile_paste_is_shown_and_sent_literally(tmp_path):
    text = "".join(HOSTILE)
    engine = FakeEngine()
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(150, 50)) as pilot:
        prompt = app.chat_screen.prompt
        prompt.focus()
        app.post_message(events.Paste(text))
        await wait_until(pilot, lambda: prompt.text == literal(text), 10, "the paste")
        assert reaches_terminal(app) == []
        await pilot.press("enter")
        await wait_idle(pilot)
        seen = screen_text(app)
        assert [s for s in SEEN if s not in seen] == []
        assert reaches_terminal(app) == []
        messages = app.store.messages(app.chat_screen.conversation_id)
        # What was shown is what was sent: the escape sequences as visible symbols.
        assert messages[0].content == literal(text)
        # ... and what the model was asked: the conversation ends with it, no empty answer.
        assert engine.requests[-1][0][-1] == {"role": "user", "content": literal(text)}
        assert messages[1].content == "Hello from the fake engine."
        title = app.store.get_conversation(app.chat_screen.conversation_id).title
        assert title and "\x1b" not in title


def megabyte(lines: bool) -> str:
    if lines:
        return ("The quick brown fox jumps over the lazy dog. " * 20 + "\n") * 1110
    return '{"key": "value", "n": 12345, "ok": true}, ' * 24_400  # one 1 MB line


async def test_a_megabyte_paste_keeps_the_app_responsive(tmp_path):
    big = megabyte(lines=False)
    assert len(big) > 1_000_000
    app = make_app(tmp_path, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.chat_screen.prompt
        prompt.focus()
        app.post_message(events.Paste(big))
        await wait_until(pilot, lambda: len(prompt.value) == len(big), 60, "the paste")
        # One 1 MB line is held out of the editor: a token stands for it.
        assert prompt.text == "[long line #1: 1,024,800 characters]"
        assert await key_seconds(pilot, "!") < KEY_BOUND
        await pilot.press("enter")
        await wait_idle(pilot)
        saved = app.store.messages(app.chat_screen.conversation_id)
        assert saved[0].content == big + "!"  # a megabyte in, a megabyte kept
        assert app.chat_screen.view.query(UserMessage)
        for key in ("x", "y", "z"):  # typing while the megabyte is on screen
            assert await key_seconds(pilot, key) < KEY_BOUND
        app.chat_screen.view.focus()
        for key in ("pageup", "home", "end"):  # scrolling through it
            started = time.monotonic()
            await pilot.press(key)
            await pilot.pause()
            assert time.monotonic() - started < KEY_BOUND, key
        assert await key_seconds(pilot, "w") < KEY_BOUND
        assert app.is_running


async def test_a_paste_with_a_very_long_line_is_held_whole_and_sent_in_full(tmp_path):
    from gguf_tui.tui.widgets.prompt import LONG_LINE

    engine = FakeEngine()
    app = make_app(tmp_path, engine=engine)
    long_one, long_two = "a" * (LONG_LINE + 1), "line one\n" + "b" * (LONG_LINE + 5)
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.chat_screen.prompt
        prompt.focus()
        app.post_message(events.Paste("short\r\npaste"))  # an ordinary paste is shown as is
        await wait_until(pilot, lambda: prompt.text == "short\npaste", 10, "the short paste")
        await pilot.press("space")
        app.post_message(events.Paste(long_one))
        token = "[long line #1: 20,001 characters]"
        await wait_until(pilot, lambda: prompt.text.endswith(token), 10, "the first token")
        await pilot.press("space")
        app.post_message(events.Paste(long_two))
        second = "line one\n[long line #2: 20,005 characters]"  # only the long line is held
        await wait_until(pilot, lambda: prompt.text.endswith(second), 10, "the second token")
        assert prompt.value == f"short\npaste {long_one} {long_two}"
        await pilot.press("backspace")  # deletes the whole token, not its last character
        rest = f"{token} line one\n"
        await wait_until(pilot, lambda: prompt.text.endswith(rest), 10, "the deletion")
        assert prompt.value == f"short\npaste {long_one} line one\n"
        await pilot.press("ctrl+z")  # undo brings the token back, and with it the line
        await wait_until(pilot, lambda: prompt.text.endswith(second), 10, "the undo")
        await pilot.press("backspace", "backspace", "backspace")  # the token, "\n", "e"
        await wait_until(pilot, lambda: prompt.text.endswith(" line on"), 10, "the deletions")
        await pilot.press("enter")
        await wait_idle(pilot)
        sent = app.store.messages(app.chat_screen.conversation_id)[0].content
        assert sent == f"short\npaste {long_one} line on"  # in full, what it stood for
        assert engine.requests[-1][0][-1]["content"] == sent
        assert prompt.text == "" and prompt.value == ""
        await pilot.press("ctrl+z")  # the sent text back, undoing the clear: the line too
        await wait_until(pilot, lambda: prompt.value == sent, 10, "the sent text back")
        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: prompt.text == "", 10, "the redo")
        await pilot.press("up")  # editing it holds its long line again
        shown = f"short\n[long line #1: {len(sent) - 6:,} characters]"
        await wait_until(pilot, lambda: prompt.text == shown, 10, "the message to edit")
        assert prompt.value == sent


async def test_a_megabyte_paste_to_the_real_model_is_a_clear_error(engine, tmp_path):
    big = megabyte(lines=True)
    app = make_app(tmp_path, engine=engine)
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.chat_screen.prompt
        prompt.focus()
        app.post_message(events.Paste(big))
        await wait_until(pilot, lambda: len(prompt.text) == len(big), 60, "the paste")
        await pilot.press("enter")
        await wait_idle(pilot, 120)
        assert "too long for the context window" in notifications(app)
        saved = app.store.messages(app.chat_screen.conversation_id)
        assert [m.role for m in saved] == ["user"] and saved[0].content == big
        assert await key_seconds(pilot) < KEY_BOUND
        # The model is still there and answers a message that fits.
        await type_and_send(pilot, "Say hi.")
        await wait_idle(pilot, 120)
        assert app.store.messages(app.chat_screen.conversation_id)[-1].content.strip()


# -- emoji split across tokens, with the real tokenizer -------------------------------------

SPLIT = "Llamas 🦙, family 👨\u200d👩\u200d👧, flag 🇯🇵, café, 中文, done."


def test_the_tokenizer_really_splits_emoji_into_byte_tokens(engine):
    llm = engine._model.llm
    tokens = llm.tokenize("🦙".encode(), add_bos=False, special=False)
    pieces = [llm.detokenize([t]) for t in tokens]
    assert len(tokens) > 1 and b"".join(pieces) == "🦙".encode()
    undecodable = []
    for piece in pieces:
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.append(piece)
    assert undecodable  # each piece alone is not text: the decoder must hold bytes back


def test_a_generated_emoji_comes_out_whole(engine):
    """Tokens that spell the text are fed through the engine's own decode loop."""
    tokens, events_ = spelled(engine, SPLIT)
    deltas = [e.text for e in events_ if isinstance(e, TextDelta)]
    assert "".join(deltas) == SPLIT
    assert not any("\ufffd" in d for d in deltas)
    assert len(deltas) < len(tokens)  # the emoji's byte tokens waited for each other


def test_the_real_model_writes_emoji_byte_by_byte_and_they_arrive_whole(engine):
    sampling = Sampling(temperature=0.0, seed=1, max_tokens=12, repeat_penalty=1.0)
    gen = engine.complete("🦙" * 8, sampling)
    events_ = list(gen)
    deltas = [e.text for e in events_ if isinstance(e, TextDelta)]
    finished = events_[-1]
    assert isinstance(finished, Finished) and finished.stats.generated_tokens == 12
    assert deltas == ["🦙"] * 4  # twelve byte tokens, four whole emoji


# -- the display boundary itself (tui/text.py, the app's notify) -------------------------------


def test_literal_is_idempotent_and_writes_anywhere():
    from gguf_tui.tui.text import cell

    text = "".join(HOSTILE) + "\ud800 lone \udc9b surrogates"
    once = literal(text)
    assert literal(once) == once
    once.encode("utf-8")  # no lone surrogate left: a terminal can be written it
    assert not [c for c in once if ord(c) < 0x20 and c not in "\t\n"]
    assert not [c for c in once if 0x7F <= ord(c) <= 0x9F]
    assert cell("[/x]\x1b]0;t\x07").plain == "[/x]␛]0;t␇"  # a cell is literal too


async def test_a_notice_quoting_markup_and_escapes_is_shown_as_written(tmp_path):
    """A server's error body in a notice: `[/x]` crashed the app (MarkupError) before."""
    app = make_app(tmp_path, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        body = "[/x] [@click=app.quit]quit[/] \x1b]52;c;cHduZWQ=\x07"
        app.chat_screen.notify(body, title="[/t]\x1b[31m", markup=True)  # markup is refused
        await wait_until(pilot, lambda: "[/x]" in notifications(app), 10, "the notice")
        await pilot.pause()
        assert notifications(app) == "[/x] [@click=app.quit]quit[/] ␛]52;c;cHduZWQ=␇"
        shown = list(app._notifications)[-1]
        assert shown.title == "[/t]␛[31m" and shown.markup is False
        assert reaches_terminal(app) == []
        assert app.is_running
