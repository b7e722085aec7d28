"""One streamed answer from an OpenAI-compatible server, turned into engine events.

Runs on the remote engine's worker thread and writes into a `Generation`
exactly as the local decode loop does, so every front end reads one stream.
Server-sent events are parsed by httpx2 (`Client.sse`); this module only
reads the chunks: `content` deltas go through the same `<think>` splitter as
local output, `reasoning_content` / `reasoning` deltas are reasoning already,
and the figures come from our own clock plus `usage` and llama.cpp's `timings`
when the server sends them.

A server is not trusted to be sane: one event is read up to SSE_EVENT_MAX, an
answer up to ANSWER_MAX_CHARS, an error body up to ERROR_BODY_MAX; a chunk that
is not an answer chunk ends the reading with the text so far kept and a message
saying what was wrong; figures that are no sane numbers (inf, NaN) are ignored.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import httpx2

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
from gguf_tui.engine.remote.endpoint import Endpoint
from gguf_tui.engine.remote.errors import (
    ERROR_BODY_MAX,
    ERROR_BODY_SECONDS,
    RemoteError,
    connect_error,
    cut_off,
    first_byte_timeout,
    server_message,
    stalled,
    status_error,
)
from gguf_tui.engine.remote.guard import CLOSED, FIRST_BYTE, STALLED, StreamGuard, read_capped
from gguf_tui.engine.remote.guard import STOPPED as CUT_BY_STOP
from gguf_tui.engine.remote.models import MAX_FIGURE, parse_json
from gguf_tui.engine.think import REASONING, ThinkSplitter

log = logging.getLogger(__name__)
DONE = "[DONE]"
SSE_EVENT_MAX = 1024 * 1024  # bytes of one server-sent event (a chunk is a few hundred)
ANSWER_MAX_CHARS = 1024 * 1024  # characters of one answer, text and reasoning together
WHOLE_ANSWER_MAX = 4 * 1024 * 1024  # bytes of an answer sent whole (JSON, not streamed)
_EXCERPT = 60  # characters of a bad chunk quoted in the message


class Malformed(ValueError):
    """A chunk that is not part of an answer; the message says what is wrong with it."""


def _excerpt(data: str) -> str:
    flat = " ".join(data.split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


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
        if sampling.ignore_eos:
            body["ignore_eos"] = True
    return body


def _number(data: dict[str, Any] | None, key: str) -> float | None:
    """A figure of `usage` or `timings`, or None when absent or no sane number
    (inf, NaN, negative, absurdly large): the stats then use our own counts."""
    value = (data or {}).get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    number = float(value)
    if not math.isfinite(number) or not 0 <= number < MAX_FIGURE:
        log.warning("ignoring %s = %.40r from the server: not a sane number", key, value)
        return None
    return number


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
        self.answered = False  # the status line and headers arrived
        self.chars = 0  # of text and reasoning, against ANSWER_MAX_CHARS

    def feed(self, chunk: object) -> None:
        """Apply one chunk; Malformed when it is not an answer chunk (nothing of it is
        applied then). An over-long answer raises RemoteError once the cap is reached."""
        if not isinstance(chunk, dict):
            raise Malformed(f"a {type(chunk).__name__}, not a JSON object")
        choices = chunk.get("choices")
        if choices is None:
            choices = []
        if not isinstance(choices, list):
            raise Malformed("'choices' is not a list")
        parsed = [self._choice(c) for c in choices if c is not None]
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if isinstance(chunk.get("timings"), dict):
            self.timings = chunk["timings"]
        for thought, content, finish in parsed:
            if thought:
                self._arrived()
                self._emit(REASONING, thought)
            if content:
                self._arrived()
                for kind, piece in self.splitter.feed(content):
                    self._emit(kind, piece)
            if finish:
                self.finish_reason = finish

    @staticmethod
    def _choice(choice: object) -> tuple[str, str, str | None]:
        """(reasoning, content, finish_reason) of one choice, or Malformed."""
        if not isinstance(choice, dict):
            raise Malformed("a choice is not a JSON object")
        delta = choice.get("delta") or choice.get("message") or {}
        if not isinstance(delta, dict):
            raise Malformed("'delta' is not a JSON object")
        thought = delta.get("reasoning_content") or delta.get("reasoning") or ""
        content = (delta.get("content") if "text" not in choice else choice.get("text")) or ""
        if not isinstance(thought, str) or not isinstance(content, str):
            raise Malformed("the text of a delta is not a string")
        finish = choice.get("finish_reason")
        if finish is not None and not isinstance(finish, str):
            raise Malformed("'finish_reason' is not a string")
        return thought, content, finish or None

    def _arrived(self) -> None:
        self.last_at = time.perf_counter()
        if not self.first_at:
            self.first_at = self.last_at
        self.deltas += 1

    def _emit(self, kind: str, piece: str) -> None:
        room = ANSWER_MAX_CHARS - self.chars
        over = len(piece) > room
        if over:
            piece = piece[:room]
        self.chars += len(piece)
        if piece:
            self._emit_piece(kind, piece)
        if over:
            raise RemoteError(
                f"the answer passed {ANSWER_MAX_CHARS // 2**20} MiB of text; stopped "
                "reading it, the part received is kept"
            )

    def _emit_piece(self, kind: str, piece: str) -> None:
        if kind == REASONING:
            self.reasoning.append(piece)
            self.gen.emit(ReasoningDelta(piece))
        else:
            self.text.append(piece)
            self.gen.emit(TextDelta(piece))

    def flush(self) -> None:
        try:
            for kind, piece in self.splitter.flush():
                self._emit(kind, piece)
        except RemoteError:  # the cap: what fitted was emitted
            pass

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
            if guard.reason in (CUT_BY_STOP, CLOSED):
                reply.finished(STOPPED)
            else:
                reply.failed(str(exc))
            return
        except httpx2.ConnectTimeout as exc:
            reply.failed(str(connect_error(endpoint, exc, timed_out=True)))
            return
        except httpx2.ConnectError as exc:
            if guard.reason in (CUT_BY_STOP, CLOSED):
                reply.finished(STOPPED)
            else:
                reply.failed(str(connect_error(endpoint, exc)))
            return
        except httpx2.HTTPError as exc:  # the connection broke, or the guard cut it
            log.info("stream from %s ended: %s (guard: %s)", endpoint.url, exc, guard.reason)
            timed_out = isinstance(exc, httpx2.ReadTimeout)
            silent = guard.reason == FIRST_BYTE or (timed_out and not reply.deltas)
            if guard.reason in (CUT_BY_STOP, CLOSED):
                reply.finished(STOPPED)
            elif silent and reply.answered:  # headers came, then no whole event
                reply.failed(
                    f"{endpoint.label} answered but sent no complete event within "
                    f"{endpoint.first_byte_timeout:g} s"
                )
            elif silent:
                reply.failed(str(first_byte_timeout(endpoint)))
            elif guard.reason == STALLED or timed_out:
                reply.failed(str(stalled(endpoint)))
            elif isinstance(exc, httpx2.DecodingError):
                reply.failed(str(cut_off(endpoint, "its compressed stream was broken")))
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
    url = endpoint.api(path)
    with client.stream(
        "POST",
        url,
        json=body,
        headers={"Accept": "text/event-stream", "Cache-Control": "no-store"} | endpoint.headers(),
        extensions={"trace": guard.trace},
    ) as response:
        reply.answered = True
        if response.status_code >= 400:
            guard.arm(ERROR_BODY_SECONDS, FIRST_BYTE)
            text, more = read_capped(response, ERROR_BODY_MAX, keep_partial=True)
            raise status_error(
                endpoint,
                response.status_code,
                text.decode("utf-8", "replace"),
                response.headers.get("retry-after"),
                url=url,
                model=str(body.get("model", "")),
                truncated=more,
            )
        kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind == "application/json":  # a server that ignores "stream": one whole answer
            data, more = read_capped(response, WHOLE_ANSWER_MAX)
            if more:
                raise RemoteError(
                    f"{endpoint.label} sent a whole answer over "
                    f"{WHOLE_ANSWER_MAX // 2**20} MiB; not read further"
                )
            try:
                reply.feed(parse_json(data))
            except ValueError as exc:  # bad JSON, or Malformed
                raise RemoteError(
                    f"{endpoint.label} sent an answer that is not a chat completion ({exc})"
                ) from None
            return True
        if kind != "text/event-stream":
            guard.arm(ERROR_BODY_SECONDS, FIRST_BYTE)
            text, _ = read_capped(response, ERROR_BODY_MAX, keep_partial=True)
            said = server_message(text.decode("utf-8", "replace"))
            raise RemoteError(
                f"{endpoint.label} answered {url} with {_excerpt(kind) or 'no content type'} "
                f"(HTTP {response.status_code}), not a stream of answer events"
                + (f": {said}" if said else "")
                + ". Is the base URL an OpenAI-compatible API (usually …/v1)?"
            )
        try:
            return _events(endpoint, response, reply, guard)
        except httpx2.SSEError:
            if guard.reason is not None:
                raise
            raise RemoteError(
                f"{endpoint.label} sent one event over {SSE_EVENT_MAX // 2**20} MiB; "
                "stopped reading, the part received is kept"
            ) from None


def _events(endpoint: Endpoint, response: Any, reply: _Reply, guard: StreamGuard) -> bool:
    for event in httpx2.EventSource(response, max_event_size=SSE_EVENT_MAX):
        if reply.gen.stop_requested:
            return False
        guard.arm(endpoint.chunk_timeout, STALLED)
        data = event.data.strip()
        if data == DONE:
            return True
        if not data:
            continue
        try:
            chunk = parse_json(data.encode("utf-8", "surrogatepass"))
        except ValueError:
            chunk = None
            problem = "not JSON"
        if event.event == "error" or (isinstance(chunk, dict) and chunk.get("error")):
            detail = server_message(data) or "no reason given"
            raise RemoteError(f"{endpoint.label} reported an error while answering: {detail}")
        try:
            if chunk is None:
                raise Malformed(problem)
            reply.feed(chunk)
        except Malformed as exc:
            log.warning("%s sent a chunk that is no answer chunk: %.200s", endpoint.url, data)
            raise RemoteError(
                f"{endpoint.label} sent a chunk that is not part of an answer ({exc}: "
                f"{_excerpt(data)}); stopped reading, the part received is kept"
            ) from None
    return reply.finish_reason is not None  # some servers end without [DONE]
