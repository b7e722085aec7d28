"""One streamed answer from an OpenAI-compatible server, turned into engine events.

Runs on the remote engine's worker thread and writes into a `Generation`
exactly as the local decode loop does, so every front end reads one stream.
Server-sent events are parsed by httpx2 (`Client.sse`); this module only
reads the chunks: `content` deltas go through the same `<think>` splitter as
local output, `reasoning_content` / `reasoning` deltas are reasoning already,
and the figures come from our own clock plus `usage` and llama.cpp's `timings`
when the server sends them.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx2

from gguf_tui.engine.endpoint import Endpoint
from gguf_tui.engine.events import (
    LENGTH,
    STOP,
    STOPPED,
    Failed,
    Finished,
    GenerationStats,
    ReasoningDelta,
    TextDelta,
)
from gguf_tui.engine.generation import Generation
from gguf_tui.engine.options import Sampling
from gguf_tui.engine.remote_errors import (
    RemoteError,
    connect_error,
    cut_off,
    first_byte_timeout,
    server_message,
    stalled,
    status_error,
)
from gguf_tui.engine.remote_guard import FIRST_BYTE, STALLED, StreamGuard
from gguf_tui.engine.remote_guard import STOPPED as CUT_BY_STOP
from gguf_tui.engine.think import REASONING, ThinkSplitter

log = logging.getLogger(__name__)
DONE = "[DONE]"


def request_body(
    endpoint: Endpoint,
    model: str,
    sampling: Sampling,
    *,
    messages: list[dict[str, str]] | None = None,
    prompt: str | None = None,
) -> dict[str, Any]:
    """The JSON of a streamed chat (`messages`) or completion (`prompt`) request."""
    body: dict[str, Any] = {"model": model, "stream": True}
    if messages is not None:
        body["messages"] = messages
    else:
        body["prompt"] = prompt
    body["stream_options"] = {"include_usage": True}  # usage arrives in a last chunk
    body["temperature"] = sampling.temperature
    body["top_p"] = sampling.top_p
    if sampling.max_tokens:
        body["max_tokens"] = sampling.max_tokens
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if endpoint.extra_sampling:
        # llama.cpp's servers read repeat_penalty, vLLM reads repetition_penalty;
        # each ignores the other's name.
        body.update(
            top_k=sampling.top_k,
            min_p=sampling.min_p,
            repeat_penalty=sampling.repeat_penalty,
            repetition_penalty=sampling.repeat_penalty,
        )
        if getattr(sampling, "ignore_eos", False):
            body["ignore_eos"] = True
    return body


def _number(data: dict[str, Any] | None, key: str) -> float | None:
    value = (data or {}).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class _Reply:
    """The answer as it arrives: text, reasoning and the figures for its stats."""

    def __init__(self, gen: Generation, started: float) -> None:
        self.gen = gen
        self.started = started
        self.splitter = ThinkSplitter()
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.deltas = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.timings: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> None:
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if isinstance(chunk.get("timings"), dict):
            self.timings = chunk["timings"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            content = delta.get("content") if "text" not in choice else choice.get("text")
            if isinstance(thought, str) and thought:
                self._arrived()
                self._emit(REASONING, thought)
            if isinstance(content, str) and content:
                self._arrived()
                for kind, piece in self.splitter.feed(content):
                    self._emit(kind, piece)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])

    def _arrived(self) -> None:
        self.last_at = time.perf_counter()
        if not self.first_at:
            self.first_at = self.last_at
        self.deltas += 1

    def _emit(self, kind: str, piece: str) -> None:
        if kind == REASONING:
            self.reasoning.append(piece)
            self.gen.emit(ReasoningDelta(piece))
        else:
            self.text.append(piece)
            self.gen.emit(TextDelta(piece))

    def flush(self) -> None:
        for kind, piece in self.splitter.flush():
            self._emit(kind, piece)

    def stats(self) -> GenerationStats:
        usage, timings = self.usage, self.timings
        generated = (
            _number(usage, "completion_tokens") or _number(timings, "predicted_n") or self.deltas
        )
        prompt_n = _number(timings, "prompt_n")
        prompt_tokens = _number(usage, "prompt_tokens") or (
            (prompt_n or 0) + (_number(timings, "cache_n") or 0)
        )
        details = (usage or {}).get("prompt_tokens_details")
        cached = _number(details if isinstance(details, dict) else None, "cached_tokens") or 0
        evaluated = prompt_n if prompt_n is not None else max(prompt_tokens - cached, 0)
        return GenerationStats(
            prompt_tokens=int(prompt_tokens),
            prompt_tokens_evaluated=int(evaluated),
            generated_tokens=int(generated),
            prompt_seconds=(_number(timings, "prompt_ms") or 0.0) / 1000.0,
            generation_seconds=self.last_at - self.first_at if self.deltas > 1 else 0.0,
            time_to_first_token=self.first_at - self.started if self.first_at else 0.0,
            total_seconds=time.perf_counter() - self.started,
            waited_seconds=self.gen.waited_seconds,
            waited_for=self.gen.waited_for,
        )

    def finished(self, reason: str) -> None:
        self.flush()
        stats = self.stats()
        self.gen.emit(Finished(reason, "".join(self.text), "".join(self.reasoning), stats))

    def failed(self, message: str) -> None:
        self.flush()
        self.gen.emit(Failed(message, text="".join(self.text)))


def _reason(finish_reason: str | None) -> str:
    return LENGTH if finish_reason == "length" else STOP


def stream_reply(
    client: httpx2.Client, endpoint: Endpoint, path: str, body: dict[str, Any], gen: Generation
) -> None:
    """POST `body` to `path` and stream the answer into `gen`; always ends it."""
    reply = _Reply(gen, gen.requested_at)  # first token counts from the request
    with StreamGuard(lambda: gen.stop_requested) as guard:
        guard.arm(endpoint.first_byte_timeout, FIRST_BYTE)
        try:
            complete = _read(client, endpoint, path, body, reply, guard)
        except RemoteError as exc:
            reply.failed(str(exc))
            return
        except httpx2.ConnectTimeout as exc:
            reply.failed(str(connect_error(endpoint, exc, timed_out=True)))
            return
        except httpx2.ConnectError as exc:
            if guard.reason == CUT_BY_STOP:
                reply.finished(STOPPED)
            else:
                reply.failed(str(connect_error(endpoint, exc)))
            return
        except httpx2.TransportError as exc:  # the connection broke, or the guard cut it
            log.info("stream from %s ended: %s (guard: %s)", endpoint.url, exc, guard.reason)
            if guard.reason == CUT_BY_STOP:
                reply.finished(STOPPED)
            elif guard.reason == FIRST_BYTE or (
                isinstance(exc, httpx2.ReadTimeout) and not reply.deltas
            ):
                reply.failed(str(first_byte_timeout(endpoint)))
            elif guard.reason == STALLED or isinstance(exc, httpx2.ReadTimeout):
                reply.failed(str(stalled(endpoint)))
            else:
                reply.failed(str(cut_off(endpoint, str(exc))))
            return
    if gen.stop_requested and not complete:
        reply.finished(STOPPED)
    elif complete:
        reply.finished(_reason(reply.finish_reason))
    elif reply.deltas:
        reply.failed(str(cut_off(endpoint, "the stream ended before the answer was finished")))
    else:
        reply.failed(
            f"{endpoint.label} ended the stream without an answer; its own log says why "
            "(a prompt longer than its context window is a common cause)"
        )


def _read(
    client: httpx2.Client,
    endpoint: Endpoint,
    path: str,
    body: dict[str, Any],
    reply: _Reply,
    guard: StreamGuard,
) -> bool:
    """Read the response into `reply`; True when the server said the answer is complete."""
    with client.sse(
        endpoint.api(path),
        method="POST",
        json=body,
        headers=endpoint.headers(),
        extensions={"trace": guard.trace},
    ) as source:
        response = source.response
        if response.status_code >= 400:
            response.read()
            raise status_error(
                endpoint,
                response.status_code,
                response.text,
                response.headers.get("retry-after"),
                url=str(response.url),
                model=str(body.get("model", "")),
            )
        kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind == "application/json":  # a server that ignores "stream": one whole answer
            response.read()
            reply.feed(response.json())
            return True
        for event in source:
            if reply.gen.stop_requested:
                return False
            guard.arm(endpoint.chunk_timeout, STALLED)
            data = event.data.strip()
            if data == DONE:
                return True
            if not data:
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                chunk = None
            if event.event == "error" or (isinstance(chunk, dict) and chunk.get("error")):
                detail = server_message(data) or "no reason given"
                raise RemoteError(f"{endpoint.label} reported an error while answering: {detail}")
            if isinstance(chunk, dict):
                reply.feed(chunk)
            else:
                log.warning("%s sent a chunk that is not a JSON object: %.200s", endpoint.url, data)
    return reply.finish_reason is not None  # some servers end without [DONE]
