"""The loaded `Llama` and the one decode loop every reply goes through.

Everything here runs on the engine thread (see engine.py): a `Llama` is not
thread-safe and crashes the process if used after `close()`.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gguf_tui.engine.events import (
    CONTEXT,
    LENGTH,
    STOP,
    STOPPED,
    ContextTrimmed,
    Finished,
    GenerationStats,
    ReasoningDelta,
    TextDelta,
)
from gguf_tui.engine.generation import Generation
from gguf_tui.engine.local import cpu_quirks, llama_log
from gguf_tui.engine.local.chat_format import (
    GGUF_TEMPLATE_NAME,
    NO_SWITCH,
    ChatFormatError,
    RenderCancelled,
    RenderedPrompt,
    Renderer,
    check_template,
    choose_chat_format,
    make_renderer,
    no_builtin_handlers,
    own_template,
    think_switch,
)
from gguf_tui.engine.local.context import ContextOverflowError, fit_messages, reply_reserve
from gguf_tui.engine.local.load_params import auto_gpu_fit, check_cache_options, flash_attn_type
from gguf_tui.engine.local.stop_strings import StopMatcher, tokens_to_read
from gguf_tui.engine.model_info import EngineError, ModelInfo
from gguf_tui.engine.options import GPU_LAYERS_AUTO, LoadOptions, Sampling, bounded_threads
from gguf_tui.engine.think import REASONING, ThinkSplitter
from gguf_tui.models.gguf_checks import check_loadable
from gguf_tui.models.gguf_file import GGUFError, shard_paths
from gguf_tui.models.gpu_fit import (
    ALL_LAYERS,
    DeviceMemory,
    GpuFit,
    ModelShape,
    back_off,
    expected_fit,
    is_out_of_memory,
)
from gguf_tui.models.memory import KV_CACHE_TYPES, kv_bytes_per_token, system_memory
from gguf_tui.models.quant import model_base_name, quant_name

log = logging.getLogger(__name__)
_OFFLOADED_RE = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
# llama.cpp says what flash attention became: "flash_attn = enabled" when asked for on,
# "Flash Attention enabled" (or disabled) once `auto` is resolved for the devices.
_KV_SIZE_RE = re.compile(r"llama_kv_cache: size =\s*([\d.]+) MiB")
_FLASH_ATTN_RE = re.compile(r"(?:flash_attn\s*=\s*|Flash Attention )(enabled|disabled)")
ProgressFn = Callable[[float], bool]  # return False to cancel the load


class LoadCancelled(EngineError):
    pass


def _count(value: object) -> int:
    """A size from the file's metadata; 0 (unknown) for anything but a whole number, as a
    hostile or broken file may hold text there."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


# The most training context believed from a file: above every real model (Llama 4 Scout
# claims 10,485,760). llama-cpp-python sizes every tokenizer buffer by it (2^31 - 1 took
# 8.6 GB), and llama.cpp reads it as a signed 32-bit number (0xFFFFFFFF became -1).
MAX_TRAIN_CTX = 1 << 24
KV_SHARE = 0.5  # of the memory available now, the most the KV cache may take


def believed_train_ctx(claimed: int) -> tuple[int, str]:
    """The training context a file claims, or 0 (unknown) past MAX_TRAIN_CTX, with a note."""
    if claimed <= MAX_TRAIN_CTX:
        return claimed, ""
    return 0, (
        f"the file claims a training context of {claimed:,} tokens, more than any model has; "
        "ignored"
    )


def memory_bounded_n_ctx(n_ctx: int, per_token: int, available: int | None) -> int:
    """`n_ctx`, or less when its KV cache and attention buffers (`per_token` bytes for each
    token of context) would take more than KV_SHARE of the memory `available`."""
    if not per_token or not available or n_ctx * per_token <= available * KV_SHARE:
        return n_ctx
    return max(256, int(available * KV_SHARE) // per_token // 256 * 256)


def context_bytes_per_token(
    meta: dict[str, Any], arch: str, n_batch: int, kv_types: tuple[str, str] = ("f16", "f16")
) -> int:
    """The KV cache of one token in `kv_types`, plus its share of the attention scores
    llama.cpp computes for a batch (n_batch x (heads + 1) f32, without flash attention)."""
    heads = _count(meta.get(f"{arch}.attention.head_count"))
    return (kv_bytes_per_token(meta, *kv_types) or 0) + n_batch * (heads + 1) * 4


def effective_n_ctx(requested: int, n_ctx_train: int) -> int:
    """Clamp to the training context and round down to a multiple of 256
    (other sizes can crash llama-cpp-python's Python layer)."""
    n = requested if requested > 0 else n_ctx_train
    if n_ctx_train > 0:
        n = min(n, n_ctx_train)
    return max(256, n // 256 * 256)


def _cancel_poll(progress: ProgressFn | None) -> Callable[[], bool] | None:
    """For work before llama.cpp starts (rendering the template): has the user cancelled?
    The progress callback is asked at 0%, as llama.cpp itself would ask it."""
    if progress is None:
        return None
    return lambda: progress(0.0) is False


@contextlib.contextmanager
def _load_progress(llama_cpp: Any, progress: ProgressFn | None):
    """Give llama.cpp a progress callback: Llama() has no parameter for it, so the
    default-params factory it calls is wrapped for the duration of the load."""
    if progress is None:
        yield
        return
    original = llama_cpp.llama_model_default_params

    def on_progress(value: float, _data: ctypes.c_void_p) -> bool:
        try:
            return bool(progress(float(value)))
        except Exception:
            return True

    callback = llama_cpp.llama_progress_callback(on_progress)

    def with_progress():
        params = original()
        params.progress_callback = callback
        return params

    llama_cpp.llama_model_default_params = with_progress
    try:
        yield
    finally:
        llama_cpp.llama_model_default_params = original


class LlamaModel:
    """One loaded model, used only from the engine thread."""

    def __init__(self, llm: Any, info: ModelInfo, render: Renderer):
        import llama_cpp

        self._lib = llama_cpp
        self.llm = llm
        self.info = info
        self._render = render
        self._vocab = llm._model.vocab
        self._pieces: dict[int, bytes] = {}
        self._active: Generation | None = None
        # Checked by llama.cpp between graph nodes while a prompt is processed; it
        # takes the GIL, so it is only switched on for prompt processing.
        self._abort_cb = llama_cpp.ggml_abort_callback(
            lambda _data: self._active is not None and self._active.stop_requested
        )
        self._no_abort_cb = llama_cpp.ggml_abort_callback()
        self.flash_attn = False  # what llama.cpp settled on (auto resolves at load)
        self.kv_cache_bytes = 0  # the KV cache llama.cpp allocated, from its log
        self.gpu_fit = ""  # --n-gpu-layers auto's decision: "GPU 28/32 layers · 5.1 of 8 GB"
        self.think_switch = NO_SWITCH  # enable_thinking or reasoning_effort (--think)

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, options: LoadOptions, progress: ProgressFn | None = None):
        started = time.perf_counter()
        path = shard_paths(Path(path).expanduser())[0]
        try:
            header = check_loadable(path)
        except GGUFError as exc:
            raise EngineError(str(exc)) from None
        meta = header.metadata
        arch = str(meta.get("general.architecture", "unknown"))
        notes: list[str] = []
        claimed_ctx = _count(meta.get(f"{arch}.context_length"))
        n_ctx_train, ctx_note = believed_train_ctx(claimed_ctx)
        wanted_ctx = effective_n_ctx(options.n_ctx or (0 if n_ctx_train else 4096), n_ctx_train)
        flash_attn, fa_note = check_cache_options(options)
        if fa_note:
            notes.append(fa_note)
        per_token = context_bytes_per_token(
            meta, arch, min(options.n_batch, wanted_ctx), options.kv_types
        )
        n_ctx = memory_bounded_n_ctx(wanted_ctx, per_token, system_memory().ram_available)
        if n_ctx < wanted_ctx:
            need = wanted_ctx * per_token / (1 << 30)
            notes.append(
                f"a context of {wanted_ctx:,} tokens needs about {need:,.1f} GiB, more than "
                f"half the memory available; using {n_ctx:,}"
            )
        # llama.cpp reads the claim itself (as a signed 32-bit number) and llama-cpp-python
        # sizes its tokenizer buffers by it: an unbelievable one is replaced by what is used.
        overrides: dict[str, bool | int | float | str] | None = (
            {f"{arch}.context_length": n_ctx} if ctx_note else None
        )
        if ctx_note:
            notes.append(f"{ctx_note}; using {n_ctx:,}")
        n_threads, threads_note = bounded_threads(options.n_threads)
        if threads_note:
            notes.append(threads_note)
        if "tokenizer.chat_template" in header.skipped and not options.chat_format:
            size = header.skipped["tokenizer.chat_template"]
            notes.append(
                f"the model's chat template is {size:,} bytes, over the {1 << 20:,}-byte "
                "limit: it is not used"
            )
        try:
            choice = choose_chat_format(meta, options.chat_format)
            if choice.name == GGUF_TEMPLATE_NAME:
                check_template(meta, cancelled=_cancel_poll(progress))
        except RenderCancelled:
            raise LoadCancelled("loading was cancelled") from None
        except ChatFormatError as exc:
            raise EngineError(str(exc)) from None

        import llama_cpp
        from llama_cpp import llama_cpp as lib

        llama_log.install()
        cpu_quirks.apply(lib)
        llama_log.take_recent_errors()
        cancelled = False
        gpu_supported = bool(lib.llama_supports_gpu_offload())
        n_gpu_layers = options.n_gpu_layers
        fit: GpuFit | None = None
        shape: ModelShape | None = None
        if n_gpu_layers == GPU_LAYERS_AUTO:  # a CPU-only build: 0, and nothing to say
            n_gpu_layers = 0
            if gpu_supported:
                fit, shape = auto_gpu_fit(header, options, n_ctx, flash_attn) or (None, None)
                n_gpu_layers = fit.n_gpu_layers if fit else ALL_LAYERS

        def report(value: float) -> bool:
            nonlocal cancelled
            if progress is not None and progress(value) is False:
                cancelled = True
            return not cancelled

        sink = llama_log.StreamToLog()
        lines: list[str] = []
        while True:
            try:
                llm = cls._llama(
                    llama_cpp, lib, path, options, report, lines, sink, flash_attn,
                    n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, n_threads=n_threads,
                    kv_overrides=overrides,
                )  # fmt: skip
                break
            except Exception as exc:
                if cancelled:
                    raise LoadCancelled("loading was cancelled") from None
                errors = llama_log.take_recent_errors()
                if fit and shape and n_gpu_layers != 0 and is_out_of_memory(errors):
                    fewer = back_off(n_gpu_layers, shape.n_layers)
                    log.warning(
                        "out of GPU memory with %s GPU layers; trying %d", n_gpu_layers, fewer
                    )
                    fit = expected_fit(DeviceMemory(fit.free, fit.total), shape, fewer)
                    n_gpu_layers = fewer
                    lines.clear()
                    continue
                detail = llama_log.failure_reason(errors) or str(exc)
                raise EngineError(f"llama.cpp could not load {path.name}: {detail}") from None
        llm.verbose = False  # from here on llama-cpp-python would print to stderr

        n_layers = _count(meta.get(f"{arch}.block_count"))
        gpu_layers = 0
        flash_attn_used = flash_attn == "on"
        kv_cache_bytes = 0
        for line in lines:
            if m := _KV_SIZE_RE.search(line):
                kv_cache_bytes += int(float(m.group(1)) * (1 << 20))
            if m := _OFFLOADED_RE.search(line):
                gpu_layers = int(m.group(1))
            if m := _FLASH_ATTN_RE.search(line):
                flash_attn_used = m.group(1) == "enabled"
        if choice.note:
            notes.insert(0, choice.note)
        if fit is not None and fit.layers < fit.n_layers:
            notes.append(f"{fit.text}; the other layers run on the CPU (--n-gpu-layers auto)")
        if options.n_gpu_layers not in (0, GPU_LAYERS_AUTO) and not gpu_supported:
            notes.append(
                "GPU offload was requested, but this llama-cpp-python was built without GPU "
                "support: running on the CPU (see docs/gpu.md)"
            )
        if options.n_ctx > n_ctx_train > 0 and not ctx_note:
            notes.append(
                f"n_ctx {options.n_ctx} is above the model's training context; using {n_ctx}"
            )
        bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() != -1 else ""
        eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() != -1 else ""
        info = ModelInfo(
            model_id=path.name,
            path=path,
            name=model_base_name(path.name),  # what users recognise, unlike general.name
            architecture=arch,
            quant=quant_name(meta.get("general.file_type"), path.name),
            n_params=llm._model.n_params(),
            size_bytes=sum(p.stat().st_size for p in shard_paths(path)),
            n_ctx=llm.n_ctx(),
            n_ctx_train=n_ctx_train,
            chat_format=choice,
            n_layers=n_layers,
            gpu_layers=gpu_layers,
            gpu_supported=gpu_supported,
            n_threads=llm.n_threads,
            load_seconds=time.perf_counter() - started,
            notes=tuple(notes),
            gpu_fit=fit.text if fit else "",
            kv_types=options.kv_types,
            flash_attn_mode=flash_attn,
            flash_attn=flash_attn_used,
        )
        model = cls(llm, info, make_renderer(choice, meta, bos, eos))
        lib.llama_set_abort_callback(llm.ctx, model._no_abort_cb, None)
        model.flash_attn = flash_attn_used
        model.gpu_fit = fit.text if fit is not None else ""
        if choice.name == GGUF_TEMPLATE_NAME:
            model.think_switch = think_switch(own_template(meta))
        model.kv_cache_bytes = kv_cache_bytes
        log.info(
            "loaded %s (%s, n_ctx=%d, KV cache %s/%s, flash attention %s) in %.2fs",
            path,
            info.quant,
            info.n_ctx,
            options.cache_type_k,
            options.cache_type_v,
            "on" if flash_attn_used else "off",
            info.load_seconds,
        )
        return model

    @staticmethod
    def _llama(
        llama_cpp: Any,
        lib: Any,
        path: Path,
        options: LoadOptions,
        report: ProgressFn,
        lines: list[str],
        sink: Any,
        flash_attn: str,
        **params: Any,
    ) -> Any:
        """One attempt at llama.cpp's load, its log captured into `lines`."""
        n_ctx, n_threads = params["n_ctx"], params["n_threads"]
        with (
            _load_progress(lib, report),
            flash_attn_type(lib, flash_attn) as flash_attn_on,
            no_builtin_handlers(),
            llama_log.capture(lines),
            contextlib.redirect_stderr(sink),
            contextlib.redirect_stdout(sink),
        ):
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=min(options.n_batch, n_ctx),
                n_ubatch=min(options.n_ubatch, options.n_batch, n_ctx),
                n_gpu_layers=params["n_gpu_layers"],
                use_mmap=options.use_mmap,
                use_mlock=options.use_mlock,
                type_k=KV_CACHE_TYPES[options.cache_type_k].ggml_type,
                type_v=KV_CACHE_TYPES[options.cache_type_v].ggml_type,
                n_threads=n_threads,
                # --threads means the whole model: prompt processing too (llama-cpp-python
                # would otherwise use every core for it, whatever was asked).
                n_threads_batch=n_threads,
                flash_attn=flash_attn_on,
                kv_overrides=params["kv_overrides"],
                verbose=True,  # see llama_log: verbose=False redirects fd 1 and 2
            )

    def close(self) -> None:
        self.llm.close()
        self.llm = None

    # -- prompts -------------------------------------------------------------------------
    def tokenize_chat(
        self,
        messages: list[dict[str, str]],
        cancelled: Callable[[], bool] | None = None,
        think: str = "",
    ) -> tuple[list[int], RenderedPrompt]:
        """RenderCancelled when `cancelled()` turns true while the template renders.
        `think` (--think's value) sets the template's switch, where it has one."""
        variables = self.think_switch.variables(think)
        try:
            rendered = self._render(messages, cancelled=cancelled, **variables)
        except ChatFormatError as exc:
            raise EngineError(str(exc)) from None
        tokens = self.llm.tokenize(
            rendered.text.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        if not tokens:
            name = self.info.chat_format.name
            what = "chat template" if name == GGUF_TEMPLATE_NAME else f"'{name}' chat format"
            raise EngineError(
                f"the model's {what} turned this conversation into an empty prompt, so there "
                "is nothing to answer. Use another prompt format with --chat-format (e.g. chatml)"
            )
        return tokens, rendered

    def tokenize_text(self, text: str) -> list[int]:
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        if not tokens:
            raise EngineError("the prompt is empty, and this model adds nothing before it")
        return tokens

    def prefill(self, tokens: list[int]) -> int:
        """Process a prompt into the KV cache without sampling; returns tokens evaluated."""
        llm = self.llm
        prefix = 0
        for a, b in zip(llm._input_ids.tolist(), tokens, strict=False):
            if a != b:
                break
            prefix += 1
        prefix = min(prefix, len(tokens) - 1)
        llm.n_tokens = prefix
        todo = tokens[prefix:]
        llm.eval(todo)
        return len(todo)

    def run_chat(self, gen: Generation, messages: list[dict[str, str]], sampling: Sampling) -> None:
        started = gen.requested_at  # time to first token counts from the request
        n_ctx = self.info.n_ctx
        rendered: dict[int, RenderedPrompt] = {}

        def encode(kept: list[dict[str, str]]) -> list[int]:
            tokens, rendered[len(kept)] = self.tokenize_chat(
                kept, lambda: gen.stop_requested, sampling.think
            )
            return tokens

        try:
            fitted = fit_messages(
                messages, encode, n_ctx, reply_reserve(n_ctx, sampling.max_tokens)
            )
        except RenderCancelled:  # escape while the template was rendering: nothing written
            stats = GenerationStats(total_seconds=time.perf_counter() - started)
            gen.emit(Finished(STOPPED, "", "", stats))
            return
        prompt = rendered[len(fitted.messages)]
        if fitted.dropped:
            gen.emit(ContextTrimmed(fitted.dropped, len(fitted.tokens), n_ctx))
        self._decode(
            gen,
            fitted.tokens,
            sampling,
            stop_strings=prompt.stop + sampling.stop,
            in_reasoning=prompt.text.rstrip().endswith("<think>"),
            started=started,
            dropped=fitted.dropped,
            continuing=prompt.continues,
        )

    def run_completion(self, gen: Generation, text: str, sampling: Sampling) -> None:
        started = gen.requested_at
        tokens = self.tokenize_text(text)
        if len(tokens) >= self.info.n_ctx:
            raise ContextOverflowError(
                f"the prompt needs {len(tokens):,} tokens and the context window holds "
                f"{self.info.n_ctx:,}. Shorten it, or load the model with a larger --n-ctx"
            )
        self._decode(gen, tokens, sampling, sampling.stop, False, started, 0)

    # -- the decode loop -------------------------------------------------------------------
    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            buf = ctypes.create_string_buffer(256)
            n = self._lib.llama_token_to_piece(self._vocab, token, buf, 256, 0, False)
            piece = buf.raw[: max(n, 0)]
            self._pieces[token] = piece
        return piece

    def _decode(
        self,
        gen: Generation,
        prompt_tokens: list[int],
        sampling: Sampling,
        stop_strings: tuple[str, ...],
        in_reasoning: bool,
        started: float,
        dropped: int,
        continuing: bool = False,  # the answer goes on from text already written
    ) -> None:
        lib, llm = self._lib, self.llm
        n_ctx = self.info.n_ctx
        room = n_ctx - len(prompt_tokens)
        limit = min(room, sampling.max_tokens) if sampling.max_tokens else room
        llm.set_seed(sampling.seed if sampling.seed is not None else random.getrandbits(31))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        splitter = ThinkSplitter(in_reasoning, at_start=not continuing)
        stops = StopMatcher(() if sampling.ignore_eos else stop_strings)
        text_parts: list[str] = []
        reasoning_parts: list[str] = []

        def emit(chunk: str) -> None:
            for kind, piece in splitter.feed(chunk):
                self._emit_piece(gen, kind, piece, text_parts, reasoning_parts)

        to_read = tokens_to_read(llm._input_ids.tolist(), prompt_tokens)
        decode_started = time.perf_counter()
        reason = LENGTH if sampling.max_tokens and sampling.max_tokens < room else CONTEXT
        n_generated = 0
        first_at = last_at = 0.0
        self._active = gen
        lib.llama_set_abort_callback(llm.ctx, self._abort_cb, None)
        tokens = llm.generate(
            prompt_tokens,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            temp=sampling.temperature,
            repeat_penalty=sampling.repeat_penalty,
        )
        try:
            for token in tokens:
                last_at = time.perf_counter()
                if n_generated == 0:
                    first_at = last_at
                    lib.llama_set_abort_callback(llm.ctx, self._no_abort_cb, None)
                if gen.stop_requested:
                    reason = STOPPED
                    break
                if lib.llama_vocab_is_eog(self._vocab, token) and not sampling.ignore_eos:
                    reason = STOP
                    break
                n_generated += 1
                gen.context_used = len(prompt_tokens) + n_generated
                chunk, hit = stops.feed(decoder.decode(self._piece(token)))
                emit(chunk)
                if hit:
                    reason = STOP
                    break
                if n_generated >= limit:
                    break
        except RuntimeError as exc:
            if not gen.stop_requested:
                raise EngineError(f"llama.cpp failed while generating: {exc}") from None
            reason = STOPPED
        finally:
            tokens.close()
            lib.llama_set_abort_callback(llm.ctx, self._no_abort_cb, None)
            self._active = None
        if reason != STOP or not stops.hit:
            emit(stops.flush() + decoder.decode(b"", final=True))
        for kind, piece in splitter.flush():
            self._emit_piece(gen, kind, piece, text_parts, reasoning_parts)

        done = time.perf_counter()
        stats = GenerationStats(
            prompt_tokens=len(prompt_tokens),
            prompt_tokens_evaluated=to_read if first_at else 0,
            generated_tokens=n_generated,
            prompt_seconds=(first_at - decode_started) if first_at else 0.0,
            generation_seconds=(last_at - first_at) if n_generated > 1 else 0.0,
            time_to_first_token=(first_at - started) if first_at else 0.0,
            total_seconds=done - started,
            dropped_messages=dropped,
            waited_seconds=gen.waited_seconds,
            waited_for=gen.waited_for,
        )
        gen.emit(Finished(reason, "".join(text_parts), "".join(reasoning_parts), stats))

    @staticmethod
    def _emit_piece(gen: Generation, kind: str, piece: str, text: list[str], reasoning: list[str]):
        if kind == REASONING:
            reasoning.append(piece)
            gen.emit(ReasoningDelta(piece))
        else:
            text.append(piece)
            gen.emit(TextDelta(piece))
