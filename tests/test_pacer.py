"""The redraw pacer: full rate when drawing is cheap, bounded UI time when it is not."""

from __future__ import annotations

from gguf_tui.tui.pacer import UpdatePacer

TICK = 1 / 30


class FakeThread:
    """A clock and a UI-thread CPU counter; each redraw costs `frame` CPU seconds."""

    def __init__(self, frame: float) -> None:
        self.frame = frame
        self.now = self.cpu = 0.0

    def run(self, pacer: UpdatePacer, seconds: float) -> int:
        redraws = 0
        for _ in range(round(seconds / TICK)):
            self.now += TICK
            if pacer.ready():
                redraws += 1
                self.cpu += self.frame  # the redraw's layout and rendering
        return redraws


def pacer_for(thread: FakeThread, **kwargs) -> UpdatePacer:
    return UpdatePacer(clock=lambda: thread.now, cpu=lambda: thread.cpu, **kwargs)


def test_cheap_redraws_keep_the_full_rate():
    thread = FakeThread(frame=0.001)  # 1 ms a frame: 3 % of a core at 30 Hz
    assert thread.run(pacer_for(thread), 2.0) == 60


def test_costly_redraws_are_thinned_to_the_budget():
    thread = FakeThread(frame=0.015)  # 15 ms a frame: 45 % of a core at 30 Hz
    pacer = pacer_for(thread, budget=0.10, min_hz=2.0)
    redraws = thread.run(pacer, 10.0)
    share = redraws * thread.frame / 10.0
    assert 0.08 <= share <= 0.11, share
    assert pacer.skips > pacer.updates


def test_a_very_busy_ui_still_redraws_at_the_minimum_rate():
    thread = FakeThread(frame=0.2)  # slower than the tick itself
    redraws = thread.run(pacer_for(thread, budget=0.10, min_hz=4.0), 10.0)
    assert 38 <= redraws <= 42
