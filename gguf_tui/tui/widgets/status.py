"""The status line: model, quantization, context use, speed, state."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from gguf_tui.engine.model_info import ModelInfo


class StatusLine(Static):
    state: reactive[str] = reactive("idle")
    context_used: reactive[int] = reactive(0)
    last_speed: reactive[float] = reactive(0.0)
    detail: reactive[str] = reactive("")

    def __init__(self, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self.model: ModelInfo | None = None

    def set_model(self, model: ModelInfo | None) -> None:
        self.model = model
        self.refresh_line()

    def watch_state(self) -> None:
        self.set_class(self.state == "generating", "-busy")
        self.set_class(self.state.startswith("loading"), "-loading")
        self.refresh_line()

    def watch_context_used(self) -> None:
        self.refresh_line()

    def watch_last_speed(self) -> None:
        self.refresh_line()

    def watch_detail(self) -> None:
        self.refresh_line()

    def refresh_line(self) -> None:
        parts: list[str] = []
        if self.model is not None:
            parts.append(f"{self.model.name} · {self.model.quant}")
            if self.model.server:  # answered by a server, not this machine
                parts.append(f"@ {self.model.server}")
            if self.model.n_ctx:
                parts.append(f"ctx {self.context_used:,}/{self.model.n_ctx:,}")
            elif self.context_used:  # a server that does not say its window
                parts.append(f"ctx ~{self.context_used:,}")
            if self.model.gpu_layers:
                parts.append(f"GPU {self.model.gpu_layers}/{self.model.n_layers} layers")
            elif not self.model.server:
                parts.append("CPU" if self.model.gpu_supported else "CPU (no GPU build)")
        else:
            parts.append("no model loaded (ctrl+o to choose one)")
        if self.last_speed:
            parts.append(f"{self.last_speed:.1f} tok/s")
        parts.append(self.state)
        if self.detail:
            parts.append(self.detail)
        self.update(" │ ".join(parts))
