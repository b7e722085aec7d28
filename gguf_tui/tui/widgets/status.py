"""The status line: model, quantization, context use, speed, state.

It is one row, so it is fitted to its width: the model · quantization and the state
always show; the other parts are shortened, then left out, least useful first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.cells import cell_len
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from gguf_tui.engine.model_info import ModelInfo
from gguf_tui.tui.state import LoadState
from gguf_tui.tui.text import literal

SEP = " │ "
CLOCK_SECONDS = 0.1  # how often a load's elapsed time is redrawn

# Which part gets shorter next while the line does not fit, least useful first.
_SHORTEN_ORDER = (
    "detail",
    "device",
    "ctx",
    "speed",
    "kv",
    "device",
    "detail",
    "state",
    "state",
    "state",
    "server",
    "ctx",
)


def _thousands(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else f"{n:,}"


def load_forms(load: LoadState, clock: Callable[[], float] = time.monotonic) -> list[str]:
    """A load in flight, fullest form first: "loading NAME 45% · 1.2 s (escape cancels)"."""
    pct = f"{load.fraction:.0%}"
    elapsed = f" · {load.elapsed(clock):.1f} s"
    return [
        f"loading {literal(load.name)} {pct}{elapsed} (escape cancels)",
        f"loading {pct}{elapsed} (escape cancels)",
        f"loading {pct}{elapsed}",
        f"loading {pct}",
    ]


def device_forms(model: ModelInfo) -> list[str]:
    """Where the layers run, fullest form first: --n-gpu-layers auto's decision
    ("GPU 28/32 layers · 5.1 of 8 GB") when the model carries one, else the count.
    llama.cpp counts the output head as a layer (33/33 for 32): shown as 32/32."""
    n = model.n_layers
    layers = min(model.gpu_layers, n) if n else model.gpu_layers
    short = [f"GPU {layers}/{n} layers", f"GPU {layers}/{n}", ""]
    return [literal(model.gpu_fit), *short] if model.gpu_fit else short


class StatusLine(Static):
    state: reactive[str] = reactive("idle")
    context_used: reactive[int] = reactive(0)
    last_speed: reactive[float] = reactive(0.0)
    detail: reactive[str] = reactive("")
    load: reactive[LoadState] = reactive(LoadState)  # the app's, set by the chat screen

    def __init__(self, clock: Callable[[], float] = time.monotonic, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self.model: ModelInfo | None = None
        self.line = ""  # what is shown (fitted to the width)
        self._clock = clock
        self._load_clock: Timer | None = None  # redraws the elapsed time of a load

    def set_model(self, model: ModelInfo | None) -> None:
        self.model = model
        self.refresh_line()

    def watch_state(self) -> None:
        self.set_class(self.state == "generating", "-busy")
        self.refresh_line()

    def watch_load(self) -> None:
        """A load's progress comes from the app; only its elapsed time needs a clock."""
        loading = self.load.loading
        self.set_class(loading, "-loading")
        if loading and self._load_clock is None:
            self._load_clock = self.set_interval(CLOCK_SECONDS, self.refresh_line)
        elif not loading and self._load_clock is not None:
            self._load_clock.stop()
            self._load_clock = None
        self.refresh_line()

    def watch_context_used(self) -> None:
        self.refresh_line()

    def watch_last_speed(self) -> None:
        self.refresh_line()

    def watch_detail(self) -> None:
        self.refresh_line()

    def on_resize(self) -> None:
        self.refresh_line()

    def forms(self) -> dict[str, list[str]]:
        """Each part of the line, fullest form first; "" means left out."""
        model = self.model
        parts: dict[str, list[str]] = {}
        if model is not None:
            parts["model"] = [f"{literal(model.name)} · {literal(model.quant)}"]
            if model.is_remote:  # answered by a server, not this machine
                parts["server"] = [f"@ {literal(model.server)}", ""]
            if model.n_ctx:
                used, size = self.context_used, model.n_ctx
                parts["ctx"] = [
                    f"ctx {used:,}/{size:,}",
                    f"ctx {_thousands(used)}/{_thousands(size)}",
                    "",
                ]
            elif self.context_used:  # a server that does not say its window
                parts["ctx"] = [f"ctx ~{self.context_used:,}", ""]
            if model.kv_types != ("f16", "f16"):  # llama.cpp's default says nothing new
                k, v = (literal(t) for t in model.kv_types)
                parts["kv"] = [f"KV {k}" if k == v else f"KV {k}/{v}", ""]
            if model.gpu_layers:
                parts["device"] = device_forms(model)
            elif not model.is_remote:
                parts["device"] = (
                    ["CPU", "CPU", ""] if model.gpu_supported else ["CPU (no GPU build)", "CPU", ""]
                )
        elif not self.load.loading:  # while the first model loads, the load says it all
            parts["model"] = ["no model loaded (ctrl+o to choose one)", "no model (ctrl+o)"]
        if self.last_speed:
            parts["speed"] = [f"{self.last_speed:.1f} tok/s", ""]
        loading = self.load.loading
        parts["state"] = load_forms(self.load, self._clock) if loading else [literal(self.state)]
        if self.detail:
            detail = literal(self.detail)
            parts["detail"] = [detail, detail.split(" · ")[0], ""]
        return parts

    def fitted(self, width: int) -> str:
        """The line in at most `width` cells (0: any width), shortening the least useful
        parts first; the model · quantization and the state always stay."""
        forms = self.forms()
        chosen = dict.fromkeys(forms, 0)

        def line() -> str:
            return SEP.join(t for name, opts in forms.items() if (t := opts[chosen[name]]))

        if width <= 0:
            return line()
        steps = [*_SHORTEN_ORDER, "model"]
        while cell_len(line()) > width and steps:
            name = steps.pop(0)
            if name in chosen and chosen[name] + 1 < len(forms[name]):
                chosen[name] += 1
        text = line()
        if cell_len(text) > width and self.model is not None:
            # Last: shorten the model's name, never its quantization.
            quant = f" · {literal(self.model.quant)}"
            rest = cell_len(text) - cell_len(forms["model"][0])
            room = width - rest - cell_len(quant)
            name = literal(self.model.name)
            short = name[: room - 1] + "…" + quant if room >= 4 else literal(self.model.quant)
            forms["model"] = [short]
            chosen["model"] = 0
            text = line()
        if cell_len(text) > width:  # a state of another shape than a load's: cut its end
            state = forms["state"][chosen["state"]]
            room = width - (cell_len(text) - cell_len(state))
            if room >= 8:
                forms["state"] = [state[: room - 1] + "…"]
                chosen["state"] = 0
                text = line()
        return text

    def refresh_line(self) -> None:
        """Redraw the line only when it changed, and without a layout: it is one row of a
        fixed width, and a layout of the whole screen twice a second (the context count
        while an answer streams) was a measurable part of streaming's cost."""
        line = self.fitted(self.content_size.width if self.is_mounted else 0)
        if line != self.line or not self.is_mounted:
            self.line = line
            self.update(line, layout=False)
