"""The lifecycle both backends share (engine/lifecycle.py), on a backend with no model
behind it: what a caller sees when a load or a reply arrives while a reply is running,
and after close. The real backends are covered by test_engine.py and the remote tests."""

from __future__ import annotations

import threading

import pytest

from gguf_tui.engine import STOP, STOPPED, EngineError, Failed, Finished, Sampling, TextDelta
from gguf_tui.engine.generation import Generation
from gguf_tui.engine.lifecycle import ThreadedBackend

SECONDS = 10.0


class Toy(ThreadedBackend):
    """Answers with the words it is given; the word "hold" holds it until it is stopped."""

    def __init__(self) -> None:
        super().__init__("toy-backend", "the toy has been closed")
        self.holding = threading.Event()
        self.unloads = 0
        self.releases = 0
        self.sampled: list[Sampling] = []

    def load(self, name: str):
        return self._replace(lambda: self._set(name), "loading the model")

    def chat(self, messages, sampling: Sampling | None = None) -> Generation:
        words = [m["content"] for m in self._plain(messages)]

        def run(gen: Generation, chosen: Sampling) -> None:
            self.sampled.append(chosen)
            for word in words:
                gen.emit(TextDelta(word))
                while word == "hold" and not gen.stop_requested:
                    self.holding.set()
                    gen.wait(0.01)
            reason = STOPPED if gen.stop_requested else STOP
            gen.emit(Finished(reason=reason, text=" ".join(words)))

        return self._answer(run, sampling, "answering")

    def _set(self, name: str):
        self._info = name  # a stand-in: the base class only hands it back
        return name

    def _unload(self) -> None:
        self.unloads += 1
        self._info = None

    def _release(self) -> None:
        self.releases += 1


def said(*words: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": w, "id": "kept out"} for w in words]


def test_a_reply_gets_the_default_sampling_and_only_role_and_content():
    with Toy() as toy:
        toy.load("one").result(SECONDS)
        outcome = toy.chat(said("hello", "there")).result(SECONDS)
        assert isinstance(outcome, Finished) and outcome.text == "hello there"
        assert toy.sampled == [Sampling()] and toy.info == "one"


def test_a_load_stops_the_reply_in_progress_which_keeps_its_text():
    with Toy() as toy:
        toy.load("one").result(SECONDS)
        gen = toy.chat(said("so far", "hold"))
        assert toy.holding.wait(SECONDS)
        assert toy.load("two").result(SECONDS) == "two"
        outcome = gen.result(SECONDS)
        assert isinstance(outcome, Finished) and outcome.reason == STOPPED
        assert outcome.text == "so far hold" and toy.info == "two"


def test_a_new_reply_stops_the_previous_one():
    with Toy() as toy:
        first = toy.chat(said("hold"))
        assert toy.holding.wait(SECONDS)
        second = toy.chat(said("next"))
        assert first.result(SECONDS).reason == STOPPED
        assert second.result(SECONDS).reason == STOP


def test_close_unloads_and_releases_once_and_later_calls_fail_cleanly():
    toy = Toy()
    toy.load("one").result(SECONDS)
    gen = toy.chat(said("hold"))
    assert toy.holding.wait(SECONDS)
    with toy:
        pass  # leaving the block closes it
    assert gen.result(SECONDS).reason == STOPPED
    assert toy.info is None and (toy.unloads, toy.releases) == (1, 1)
    toy.close()
    assert (toy.unloads, toy.releases) == (1, 1)  # a second close does nothing
    late = toy.chat(said("hello")).result(SECONDS)
    assert isinstance(late, Failed) and late.message == "the toy has been closed"
    with pytest.raises(EngineError, match="the toy has been closed"):
        toy.load("two").result(SECONDS)
