"""How often a streaming answer is redrawn: as often as the UI can afford.

Every redraw of a growing answer costs the UI thread a frame of Python work
(render the live end, paint the changed lines: 2-10 ms on a small CPU), and that
work holds the GIL the engine thread needs between llama.cpp calls. At 30 redraws
a second the app generated 10-16 % slower than llama-cpp-python alone
(benchmarks/ui_overhead.py), and streaming at reading speed should cost almost
nothing. So the chat drains the engine on a 20 Hz timer, but applies the text
only while the UI thread's own CPU time (time.thread_time) stays under a share of
the wall clock: a fast machine keeps 20 Hz, a slow one settles lower, never under
`min_hz`. The end of an answer is never held back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

BUDGET = 0.06  # share of one core the redraws may take
MIN_HZ = 8.0  # a busy UI still shows progress this often


class UpdatePacer:
    """`ready()` on each timer tick (UI thread): whether to redraw this time.

    A redraw is due once the UI thread's CPU time since the last one is at most
    `budget` of the wall time since then: a frame that cost 15 ms waits 150 ms.
    """

    def __init__(
        self,
        budget: float = BUDGET,
        min_hz: float = MIN_HZ,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.thread_time,
    ) -> None:
        self.budget = budget
        self.min_interval = 1.0 / min_hz
        self._clock = clock
        self._cpu = cpu
        self._last_update = float("-inf")
        self._cpu_at_update = cpu()
        self.updates = self.skips = 0

    def ready(self) -> bool:
        now, cpu = self._clock(), self._cpu()
        elapsed = now - self._last_update
        if cpu - self._cpu_at_update <= self.budget * elapsed or elapsed >= self.min_interval:
            self._last_update, self._cpu_at_update = now, cpu
            self.updates += 1
            return True
        self.skips += 1
        return False
