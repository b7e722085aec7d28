"""Turn a conversation into the prompt text a model was trained on.

A GGUF normally carries its Jinja chat template. One without it would silently
get llama-cpp-python's `llama-2` format, which some models answer with nothing
(Gemma-3 270M did), so the format is chosen from `general.architecture`
instead and the choice is reported. The user can always override it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from llama_cpp import llama_types

# Re-exported: callers catch it without knowing where templates are rendered.
from gguf_tui.engine.local.template_guard import RenderCancelled as RenderCancelled

TEMPLATE = "template"  # the GGUF's own tokenizer.chat_template
ARCHITECTURE = "architecture"  # chosen from general.architecture
OVERRIDE = "override"  # the user asked for it

GGUF_TEMPLATE_NAME = "gguf-template"

# Format names (as llama-cpp-python registers them) -> its formatter function.
KNOWN_FORMATS = {
    "chatml": "format_chatml",
    "gemma": "format_gemma",
    "llama-2": "format_llama2",
    "llama-3": "format_llama3",
    "mistral-instruct": "format_mistral_instruct",
    "qwen": "format_qwen",
    "zephyr": "format_zephyr",
    "alpaca": "format_alpaca",
    "vicuna": "format",
    "openchat": "format_openchat",
    "chatglm3": "format_chatglm3",
    "phind": "format_phind",
    "intel": "format_intel",
    "open-orca": "format_open_orca",
    "mistrallite": "format_mistrallite",
    "pygmalion": "format_pygmalion",
    "saiga": "format_saiga",
    "oasst_llama": "format_oasst_llama",
    "baichuan": "format_baichuan",
    "baichuan-2": "format_baichuan2",
    "openbuddy": "format_openbuddy",
    "redpajama-incite": "format_redpajama_incite",
    "snoozy": "format_snoozy",
}

# Architectures whose format does not depend on anything else (prefix match).
_BY_ARCH_PREFIX = [
    ("gemma", "gemma"),
    ("qwen", "chatml"),
    ("phi", "chatml"),
    ("mistral", "mistral-instruct"),
    ("chatglm", "chatglm3"),
    ("glm", "chatglm3"),
    ("baichuan", "baichuan-2"),
    ("internlm", "chatml"),
    ("yi", "chatml"),
    ("smollm", "chatml"),
    ("olmo", "chatml"),
    ("granite", "chatml"),
]


class ChatFormatError(ValueError):
    """A chat format name that nothing knows."""


@dataclass(frozen=True, slots=True)
class ChatFormatChoice:
    name: str  # a KNOWN_FORMATS key or GGUF_TEMPLATE_NAME
    source: str  # TEMPLATE, ARCHITECTURE or OVERRIDE

    @property
    def note(self) -> str:
        """What to tell the user about the choice (empty when nothing is unusual)."""
        if self.source == ARCHITECTURE:
            return (
                f"this model has no chat template; using the '{self.name}' format "
                "chosen from its architecture (override with --chat-format)"
            )
        if self.source == OVERRIDE:
            return f"using the '{self.name}' chat format (override)"
        return ""


def choose_chat_format(
    metadata: dict[str, object], override: str | None = None
) -> ChatFormatChoice:
    """Pick how to format prompts for a model with this GGUF metadata."""
    if override:
        name = override.strip().lower()
        if name in ("template", "gguf", GGUF_TEMPLATE_NAME):
            if not own_template(metadata):
                raise ChatFormatError("this model has no chat template of its own")
            return ChatFormatChoice(GGUF_TEMPLATE_NAME, OVERRIDE)
        if name not in KNOWN_FORMATS:
            known = ", ".join(sorted(KNOWN_FORMATS))
            raise ChatFormatError(f"unknown chat format '{override}'; known formats: {known}")
        return ChatFormatChoice(name, OVERRIDE)
    if own_template(metadata):
        return ChatFormatChoice(GGUF_TEMPLATE_NAME, TEMPLATE)
    return ChatFormatChoice(format_for_architecture(metadata), ARCHITECTURE)


def own_template(metadata: dict[str, object]) -> str | None:
    """The GGUF's chat template; a value that is not text counts as none."""
    template = metadata.get("tokenizer.chat_template")
    return template if isinstance(template, str) and template.strip() else None


def format_for_architecture(metadata: dict[str, object]) -> str:
    arch = str(metadata.get("general.architecture", "")).lower()
    name = str(metadata.get("general.name", "")).lower()
    if arch == "llama":
        if "mistral" in name:
            return "mistral-instruct"
        # Llama 3 switched to a BPE ("gpt2") tokenizer; Llama 2 used SentencePiece.
        if metadata.get("tokenizer.ggml.model") == "gpt2":
            return "llama-3"
        return "llama-2"
    for prefix, fmt in _BY_ARCH_PREFIX:
        if arch.startswith(prefix):
            return fmt
    return "chatml"


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    stop: tuple[str, ...]
    added_special: bool  # the text already holds BOS/special tokens: do not add BOS
    continues: bool = False  # the text ends inside an answer, which the model goes on with


Renderer = Callable[..., RenderedPrompt]  # (messages, cancelled=None) -> RenderedPrompt
Cancelled = Callable[[], bool]


def _merge_system_into_first_user(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Gemma's format has no system role: fold it into the first user turn, as Gemma's
    own template does, instead of dropping it."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system:
        for m in rest:
            if m["role"] == "user":
                m["content"] = f"{system}\n\n{m['content']}"
                break
    return rest


def continuing(render: Renderer) -> Renderer:
    """A conversation that ends with an answer asks for that answer to be continued.

    The turns before it are rendered as for a new answer (the template's own opening
    of an assistant turn), and the answer's text follows as it was written, with no
    end of turn: the model resumes the same turn. Templates are not asked to render
    an unfinished turn (most would close it), so this works whatever the template."""

    def render_continuing(
        messages: list[dict[str, str]], cancelled: Cancelled | None = None, **variables: object
    ) -> RenderedPrompt:
        if not messages or messages[-1]["role"] != "assistant":
            return render(messages, cancelled=cancelled, **variables)
        opened = render(messages[:-1], cancelled=cancelled, **variables)
        return replace(opened, text=opened.text + messages[-1]["content"], continues=True)

    return render_continuing


def make_renderer(
    choice: ChatFormatChoice, metadata: dict[str, object], bos_token: str, eos_token: str
) -> Renderer:
    """Build the prompt renderer (imports llama-cpp-python's formatters lazily); a
    conversation ending with an answer continues it (`continuing`)."""
    return continuing(_make_renderer(choice, metadata, bos_token, eos_token))


def _make_renderer(
    choice: ChatFormatChoice, metadata: dict[str, object], bos_token: str, eos_token: str
) -> Renderer:
    from llama_cpp import llama_chat_format as lcf

    def as_rendered(result: lcf.ChatFormatterResponse) -> RenderedPrompt:
        given = result.stop or ()
        stop = (given,) if isinstance(given, str) else tuple(given)
        return RenderedPrompt(result.prompt, tuple(s for s in stop if s), result.added_special)

    if choice.name == GGUF_TEMPLATE_NAME:
        from gguf_tui.engine.local import template_guard as guard

        template = own_template(metadata) or ""
        try:
            # Built on an empty template: llama-cpp-python's own environment would fold
            # constants while compiling (`'x ' * 10**8` is computed right there).
            formatter = lcf.Jinja2ChatFormatter(
                template="", eos_token=eos_token, bos_token=bos_token
            )
            formatter.template = template
            guard.run_bounded(lambda: _bound(formatter, template), guard.BASE_LIMIT)
        except Exception as exc:
            raise template_failure(exc) from None

        def render(
            messages: list[dict[str, str]], cancelled: Cancelled | None = None, **variables: Any
        ) -> RenderedPrompt:
            """`variables` reach the template (ThinkSwitch's, for --think)."""
            try:
                # Plain role/content dicts: the shape of llama-cpp-python's message TypedDicts.
                typed = cast("list[llama_types.ChatCompletionRequestMessage]", messages)
                return guard.run_bounded(
                    lambda: as_rendered(formatter(messages=typed, **variables)),
                    guard.output_limit(messages),
                    cancelled=cancelled,
                )
            except guard.RenderCancelled:
                raise
            except Exception as exc:  # the template is code from the file: any error
                raise template_failure(exc) from None

        return render

    function = getattr(lcf, KNOWN_FORMATS[choice.name])
    if choice.name == "gemma":
        return lambda messages, cancelled=None, **_: as_rendered(
            function(_merge_system_into_first_user(messages))
        )
    return lambda messages, cancelled=None, **_: as_rendered(function(messages))


def _bound(formatter: object, template: str) -> None:
    """Compile `template` in the formatter's own environment, given every size hook of
    `template_guard` (its class becomes a subclass of itself: same options, extensions,
    filters and globals), to be rendered chunk by chunk."""
    from gguf_tui.engine.local import template_guard as guard

    env = formatter._environment.environment  # type: ignore[attr-defined]
    env.__class__ = guard.make_environment_class(type(env))
    guard.bound_filters(env.filters)
    if "lipsum" in env.globals:
        env.globals["lipsum"] = guard.bounded_lipsum(env.globals["lipsum"])
    formatter._environment = guard.BoundedTemplate(env.from_string(template))  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ThinkSwitch:
    """The variable a chat template reads to switch reasoning (--think), and its value
    for "off". Qwen3 and its kind read `enable_thinking` (true/false); gpt-oss reads
    `reasoning_effort` ("low", "medium", "high", its default "medium"), which has no off:
    the least effort, "low", stands for it unless the template itself names "none"."""

    variable: str  # "" = no switch: --think leaves the template as it is
    off: object = False

    def __bool__(self) -> bool:
        return bool(self.variable)

    def variables(self, think: str) -> dict[str, object]:
        """--think's value ("on", "off", "low", "medium", "high"; "" = the template's
        default) as the template variables to render with."""
        if not think or not self.variable:
            return {}
        if self.variable == ENABLE_THINKING:  # an effort is a kind of on
            return {ENABLE_THINKING: think != "off"}
        if think == "on":  # the template's own default effort
            return {}
        return {self.variable: self.off if think == "off" else think}


ENABLE_THINKING = "enable_thinking"
REASONING_EFFORT = "reasoning_effort"
NO_SWITCH = ThinkSwitch("")
_EFFORT_NONE = re.compile(r"""reasoning_effort\s*[!=]=\s*["']none["']""")


def think_switch(template: str | None) -> ThinkSwitch:
    """Which switch the template has (enable_thinking first), read from its text."""
    if not template:
        return NO_SWITCH
    if re.search(rf"\b{ENABLE_THINKING}\b", template):
        return ThinkSwitch(ENABLE_THINKING, False)
    if re.search(rf"\b{REASONING_EFFORT}\b", template):
        return ThinkSwitch(REASONING_EFFORT, "none" if _EFFORT_NONE.search(template) else "low")
    return NO_SWITCH


def opens_reasoning(template: str | None) -> bool:
    """True when the template's generation prompt already opens `<think>`
    (DeepSeek-R1 style), so the model's output starts inside its reasoning."""
    if not template or "<think>" not in template:
        return False
    tail = template.rsplit("add_generation_prompt", 1)[-1]
    return "<think>" in tail and "</think>" not in tail


def check_template(metadata: dict[str, object], cancelled: Cancelled | None = None) -> None:
    """Compile the model's template and render one message with it, in Jinja's sandbox,
    before the model is loaded: a template that reaches for Python internals (as in
    CVE-2024-34359), does not compile, or goes over the render limits (template_guard) is
    refused with a reason, not a traceback. RenderCancelled when `cancelled()` turns true."""
    from jinja2.exceptions import SecurityError, TemplateSyntaxError

    from gguf_tui.engine.local.template_guard import RenderLimit

    try:
        render = make_renderer(ChatFormatChoice(GGUF_TEMPLATE_NAME, TEMPLATE), metadata, "", "")
        render([{"role": "user", "content": "Hello"}], cancelled=cancelled)
    except ChatFormatError as exc:
        if isinstance(exc.__context__, SecurityError | TemplateSyntaxError | RenderLimit):
            raise
        # Anything else (raise_exception, an undefined name) may be the template being
        # particular about conversations: it is reported when one is rendered.


def template_failure(exc: Exception) -> ChatFormatError:
    """A plain sentence for an error raised while compiling or rendering a template."""
    from jinja2.exceptions import SecurityError, TemplateError

    from gguf_tui.engine.local.template_guard import RenderLimit

    reason = str(exc).strip().rstrip(".")
    if len(reason) > 200:
        reason = reason[:199] + "…"
    if isinstance(exc, RenderLimit):
        what = reason[:1].upper() + reason[1:]
    elif isinstance(exc, SecurityError):
        what = f"the model's chat template tried to reach Python internals: blocked ({reason})"
    elif isinstance(exc, TemplateError):
        what = f"the model's chat template is broken ({reason})"
    elif isinstance(exc, ValueError):  # the template's own raise_exception()
        what = f"the model's chat template refused this conversation: {reason}"
    else:
        what = f"the model's chat template failed ({type(exc).__name__}: {reason})"
    error = ChatFormatError(f"{what}. Use another prompt format with --chat-format (e.g. chatml)")
    error.__context__ = exc
    return error


@contextlib.contextmanager
def no_builtin_handlers() -> Iterator[None]:
    """Keep `Llama()` from compiling the file's chat templates into handlers.

    This app renders prompts itself (above), so those handlers are never used, and a
    template that does not compile would make the whole load fail, --chat-format or not.
    """
    from llama_cpp import llama_chat_format as lcf

    class Unused:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def to_chat_handler(self) -> None:
            return None

    original = lcf.Jinja2ChatFormatter
    lcf.Jinja2ChatFormatter = Unused  # type: ignore[misc, assignment]
    try:
        yield
    finally:
        lcf.Jinja2ChatFormatter = original  # type: ignore[misc]
