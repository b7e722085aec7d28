"""Render a model's chat template within a time and a size budget, cancellably.

A chat template is a program shipped inside the model file. Jinja's sandbox keeps it
from reaching Python's internals, but not from running for hours (nested loops,
`lipsum(n=100000)`) or from asking for gigabytes in one operation (`'x ' * 10**8`, which
ended in `std::bad_alloc`). Two guards, both in this process:

- sizes are checked *before* the operations that can multiply them (`*`, `**`, `%`, `+`,
  `~`, the string methods and filters that take a width or a count) and after every call:
  no value, and no rendered prompt, grows past `limit` characters;
- the render runs on a thread of its own, watched by the caller: past its deadline, on
  cancel (escape), or when this process's memory grows by more than `MEMORY_GROWTH`, an
  exception is raised inside the render (CPython's `PyThreadState_SetAsyncExc`, delivered
  between two bytecodes, so every Jinja loop stops at once).

A subprocess would also bound memory, but would cost a process per render (a reply
renders the conversation several times while fitting it to the window) and would have
to rebuild llama-cpp-python's formatter exactly; a template within the limits renders
here exactly as before, through the same `Jinja2ChatFormatter`.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

RENDER_SECONDS = 5.0  # real templates render a long conversation in milliseconds
BASE_LIMIT = 16 * 1024 * 1024  # characters of any value or prompt, plus twice the input
MEMORY_GROWTH = 1024 * 1024 * 1024  # bytes of resident memory one render may add
LIPSUM_MOST = 100  # paragraphs (Jinja's default is 5)
_POLL = 0.01
_PAGE = 4096


class RenderLimit(Exception):
    """The template went over a limit; the message says which."""


class _Interrupted(BaseException):
    """Raised inside the render thread (BaseException: no template code can catch it)."""


def output_limit(messages: Iterable[dict[str, Any]]) -> int:
    """What a prompt may reach: the messages themselves, twice, plus a fixed margin."""
    size = 0
    for m in messages:
        for v in m.values():
            size += len(v) if isinstance(v, str) else 64
    return BASE_LIMIT + 2 * size


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


class Budget:
    """The size limit of the render in progress, shared by the sandbox's hooks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def check(self, size: int, what: str) -> None:
        if size > self.limit:
            raise RenderLimit(
                f"the model's chat template asked for {size:,} characters ({what}); "
                f"the limit is {self.limit:,}"
            )

    def value(self, value: Any, what: str) -> Any:
        self.check(_size(value), what)
        return value


_local = threading.local()


def _budget() -> Budget:
    return getattr(_local, "budget", None) or Budget(BASE_LIMIT)


def _int_args(args: Iterable[Any]) -> int:
    return max((abs(a) for a in args if isinstance(a, int) and not isinstance(a, bool)), default=0)


def _string_method_size(obj: Any, args: tuple, kwargs: dict) -> int | None:
    """What a str method is about to build, for the ones that can multiply text."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str):
        return None
    if name in ("center", "ljust", "rjust", "zfill", "expandtabs"):
        return len(owner) + _int_args([*args, *kwargs.values()]) * (
            owner.count("\t") + 1 if name == "expandtabs" else 1
        )
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        new = args[1] if isinstance(args[1], str) else ""
        return len(owner) + (owner.count(args[0]) if args[0] else len(owner) + 1) * len(new)
    if name in ("format", "format_map"):
        return len(owner) + _int_args([*args, *kwargs.values()]) + _widths(owner)
    return None


def _widths(text: str) -> int:
    """The largest number written in a format string (a field width such as `{:>99999999}`)."""
    best, run = 0, 0
    for c in text + " ":
        if c.isdigit():
            run += 1
        else:
            if run:
                best = max(best, 10 ** min(run, 12))
            run = 0
    return best


def checked_binop(operator: str, left: Any, right: Any) -> int:
    """The size `left operator right` would have, before it is computed."""
    if operator == "*":
        if isinstance(right, str | list | tuple) and isinstance(left, int):
            left, right = right, left
        if isinstance(left, str | list | tuple) and isinstance(right, int):
            return len(left) * max(right, 0)
        return 0
    if operator == "**":
        if isinstance(left, int | float) and isinstance(right, int) and abs(right) > 4096:
            return abs(right) * max(abs(int(left)).bit_length(), 1) // 3
        return 0
    if operator == "%" and isinstance(left, str):
        items = right if isinstance(right, tuple) else (right,)
        return len(left) + _int_args(items) + _widths(left)
    if operator == "+":
        return _size(left) + _size(right)
    return 0


def make_environment_class(base: type) -> type:
    """`base` (llama-cpp-python's ImmutableSandboxedEnvironment) with every size hook."""
    from jinja2.compiler import CodeGenerator

    class BoundedCodeGenerator(CodeGenerator):
        def visit_Concat(self, node: Any, frame: Any) -> None:  # `a ~ b`: checked
            if frame.eval_ctx.volatile:
                join = "(markup_join if context.eval_ctx.volatile else str_join)"
            elif frame.eval_ctx.autoescape:
                join = "markup_join"
            else:
                join = "str_join"
            self.write(f"environment.bounded_join({join}, (")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class BoundedSandbox(base):
        code_generator_class = BoundedCodeGenerator
        intercepted_binops = frozenset({"*", "**", "%", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _budget().check(checked_binop(operator, left, right), f"the operator {operator}")
            return _budget().value(super().call_binop(context, operator, left, right), operator)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            size = _string_method_size(__obj, args, kwargs)
            what = getattr(__obj, "__name__", "a call")
            if size is not None:
                _budget().check(size, what)
            if what == "join" and isinstance(getattr(__obj, "__self__", None), str) and args:
                items = list(args[0])
                sep = len(__obj.__self__)
                _budget().check(sum(map(_size, items)) + sep * len(items), "join")
                args = (items, *args[1:])
            return _budget().value(super().call(__context, __obj, *args, **kwargs), what)

        @staticmethod
        def bounded_join(join: Callable[[tuple], str], parts: tuple) -> str:
            _budget().check(sum(len(str(p)) for p in parts), "the operator ~")
            return join(parts)

    return BoundedSandbox


def bound_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Wrap every filter: its numbers are checked first (`center(10**9)`, `batch(10**9,
    'x')`, `indent(10**9)`), its result after; `replace` and `join` are sized first."""

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def bounded(*args: Any, **kwargs: Any) -> Any:
            budget = _budget()
            budget.check(_int_args([*args[1:], *kwargs.values()]), f"the filter {name}")
            texts = [a for a in args if isinstance(a, str)]
            if name == "replace" and len(texts) >= 3:
                value, old, new = texts[:3]
                count = value.count(old) if old else len(value) + 1
                budget.check(len(value) + count * len(new), "the filter replace")
            elif name == "indent" and texts:
                after = args[args.index(texts[0]) + 1 :]
                width = kwargs.get("width", after[0] if after else 4)
                # A number of spaces, or the string put before each line.
                each = width if isinstance(width, int) and not isinstance(width, bool) else 0
                each = each or _size(width)
                lines = texts[0].count("\n") + 1
                budget.check(len(texts[0]) + lines * max(each, 1), "the filter indent")
            elif name == "format" and texts:
                budget.check(len(texts[0]) + _widths(texts[0]), "the filter format")
            elif name == "join":
                joined = list(args)  # an iterator is read once: counted, then passed on
                at = next((i for i, a in enumerate(joined) if hasattr(a, "__iter__")), None)
                if at is not None and not isinstance(joined[at], str | dict):
                    joined[at] = items = list(joined[at])
                    sep = joined[at + 1] if len(joined) > at + 1 else kwargs.get("d", "")
                    total = sum(len(str(i)) for i in items) + len(str(sep)) * len(items)
                    budget.check(total, "the filter join")
                args = tuple(joined)
            return budget.value(fn(*args, **kwargs), f"the filter {name}")

        for attr in ("jinja_pass_arg",):  # keep pass_context / pass_environment markers
            if hasattr(fn, attr):
                setattr(bounded, attr, getattr(fn, attr))
        bounded.__name__ = getattr(fn, "__name__", name)
        return bounded

    for name, fn in list(filters.items()):
        filters[name] = wrap(name, fn)


def bounded_lipsum(original: Callable[..., str]) -> Callable[..., str]:
    def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        if not (0 <= n <= LIPSUM_MOST and 0 <= min <= max <= 1000):
            raise RenderLimit(
                f"the model's chat template asked lipsum() for {n:,} paragraphs of up to "
                f"{max:,} words; the limit is {LIPSUM_MOST} paragraphs of 1,000 words"
            )
        return original(n=n, html=html, min=min, max=max)

    return lipsum


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def run_bounded(
    fn: Callable[[], Any],
    limit: int,
    *,
    seconds: float = RENDER_SECONDS,
    cancelled: Callable[[], bool] | None = None,
) -> Any:
    """`fn()` on a thread of its own under `limit`; RenderLimit past the deadline or on
    too much memory, RenderCancelled when `cancelled()` turns true."""
    result: list[Any] = []
    error: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()

    def target() -> None:
        _local.budget = Budget(limit)
        try:
            try:
                result.append(fn())
            except _Interrupted:
                raise
            except BaseException as exc:
                error.append(exc)
            finally:
                with lock:
                    done.set()
        except _Interrupted:
            pass
        finally:
            _local.budget = None

    thread = threading.Thread(target=target, name="chat-template", daemon=True)
    started = time.monotonic()
    rss0 = _rss()
    thread.start()
    reason = ""
    while not done.wait(_POLL):
        if cancelled is not None and cancelled():
            reason = "cancel"
        elif time.monotonic() - started > seconds:
            reason = f"it ran for more than {seconds:g} s"
        elif rss0 and _rss() - rss0 > MEMORY_GROWTH:
            reason = f"it took more than {MEMORY_GROWTH >> 20:,} MiB of memory"
        if reason:
            with lock:
                if not done.is_set():
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(
                        ctypes.c_ulong(thread.ident or 0), ctypes.py_object(_Interrupted)
                    )
            done.wait(2.0)  # a single C operation may finish first; it is size-checked
            break
    if reason == "cancel":
        raise RenderCancelled("cancelled while the chat template was being rendered")
    if reason:
        raise RenderLimit(f"the model's chat template was stopped: {reason}")
    if error:
        raise error[0]
    return result[0]


class RenderCancelled(Exception):
    """Escape (or another stop) arrived while the template was rendering."""


class BoundedTemplate:
    """Stands in for the compiled template inside `Jinja2ChatFormatter`: `render` builds the
    text chunk by chunk and stops at the budget, instead of joining whatever comes."""

    def __init__(self, template: Any) -> None:
        self.template = template

    def render(self, *args: Any, **kwargs: Any) -> str:
        budget = _budget()
        parts: list[str] = []
        total = 0
        for chunk in self.template.generate(*args, **kwargs):
            total += len(chunk)
            budget.check(total, "the rendered prompt")
            parts.append(chunk)
        return "".join(parts)
