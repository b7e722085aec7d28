"""What every command shares: generation options, settings, loading a model."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from gguf_tui.commands.output import say
from gguf_tui.config.settings import (
    LoadedConfig,
    Paths,
    Settings,
    last_used_model,
    load_config,
    resolve_paths,
)


class CliError(Exception):
    """Ends the command with one line on stderr and exit status 2."""


def gpu_layers_arg(text: str) -> int | str:
    """--n-gpu-layers: "auto" or a whole number (its range is checked with config.toml's)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not auto or a whole number") from None


def add_load_options(g: argparse._ArgumentGroup) -> None:
    """How a model is loaded, with llama.cpp's own option names (and short forms)."""
    from gguf_tui.engine.options import CACHE_TYPE_NAMES, FLASH_ATTN_MODES

    g.add_argument(
        "--n-ctx", "-c", type=int, metavar="N", help="context window in tokens (default 4096)"
    )
    g.add_argument(
        "--n-gpu-layers",
        "-ngl",
        type=gpu_layers_arg,
        metavar="N|auto",
        help="layers to offload to the GPU (-1 all; auto, the default: as many as free GPU "
        "memory holds, 0 on a CPU-only build)",
    )
    g.add_argument("--threads", "-t", type=int, metavar="N", help="CPU threads for generation")
    types = ", ".join(CACHE_TYPE_NAMES)
    g.add_argument(
        "--cache-type-k",
        "-ctk",
        choices=CACHE_TYPE_NAMES,
        metavar="TYPE",
        help=f"KV cache type for keys ({types}; default f16)",
    )
    g.add_argument(
        "--cache-type-v",
        "-ctv",
        choices=CACHE_TYPE_NAMES,
        metavar="TYPE",
        help="KV cache type for values (the same types; a quantized one needs flash attention)",
    )
    g.add_argument(
        "--flash-attn",
        "-fa",
        choices=tuple(FLASH_ATTN_MODES),
        help="flash attention: on, off or auto (default auto)",
    )
    g.add_argument(
        "--batch-size", "-b", dest="n_batch", type=int, metavar="N", help="logical batch (512)"
    )
    g.add_argument(
        "--ubatch-size", "-ub", dest="n_ubatch", type=int, metavar="N", help="physical batch (512)"
    )
    g.add_argument(
        "--no-mmap",
        dest="use_mmap",
        action="store_const",
        const=False,
        help="read the model into memory instead of mapping the file",
    )
    g.add_argument(
        "--mlock",
        dest="use_mlock",
        action="store_const",
        const=True,
        help="keep the model in RAM (never swapped out)",
    )


def add_generation_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by the TUI, `chat` and `run`; None means "from config"."""
    from gguf_tui.engine.options import THINK_MODES

    g = parser.add_argument_group("model and generation")
    add_load_options(g)
    g.add_argument(
        "--max-tokens", type=int, metavar="N", help="longest answer (default: until done)"
    )
    g.add_argument("--temperature", type=float, metavar="T")
    g.add_argument("--top-p", type=float, metavar="P")
    g.add_argument("--top-k", type=int, metavar="K")
    g.add_argument("--min-p", type=float, metavar="P")
    g.add_argument("--repeat-penalty", type=float, metavar="R")
    g.add_argument("--seed", type=int, help="fixed seed for reproducible answers")
    g.add_argument(
        "--think",
        choices=THINK_MODES,
        help="reasoning first, or not, for a model whose template has the switch: "
        "Qwen3's enable_thinking (on|off), gpt-oss's reasoning_effort (low|medium|high; "
        "on = the template's default, off = low); default: the template's",
    )
    g.add_argument("--system", metavar="TEXT", help="system prompt")
    g.add_argument(
        "--chat-format",
        metavar="NAME",
        help="prompt format instead of the model's template (chatml, gemma, llama-3, …)",
    )
    g.add_argument("--verbose", action="store_true", help="show llama.cpp's log and timings")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR", help="where conversations and models live")
    parser.add_argument(
        "--models-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="another folder to look for .gguf files in (repeatable)",
    )


def add_remote_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remote",
        metavar="REPO/FILE_GLOB",
        help="a model on Hugging Face, e.g. 'bartowski/Qwen2.5-0.5B-Instruct-GGUF/*Q4_K_M.gguf' "
        "(downloaded once, then used from the cache; MODEL may also be REPO:QUANT)",
    )


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Answer with a model on an OpenAI-compatible server instead of a local file."""
    g = parser.add_argument_group("server (instead of a local model, see docs/remote.md)")
    g.add_argument(
        "--server",
        metavar="URL|NAME",
        help="an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1, or a [servers.NAME] "
        "from config.toml; MODEL, if given, is then the server's model id",
    )
    g.add_argument(
        "--api-model", metavar="ID", help="the server's model to use (default: its only one)"
    )
    g.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable that holds the server's API key (default OPENAI_API_KEY)",
    )
    g.add_argument(
        "--first-byte-timeout",
        type=float,
        metavar="S",
        help="seconds to wait for the start of an answer (default 60)",
    )


def settle_model_args(args: argparse.Namespace) -> None:
    """With --remote, a lone positional is the prompt (`run --remote R "hi"`), not MODEL."""
    if not getattr(args, "remote", None) or args.model is None:
        return
    if getattr(args, "prompt", "") is None:
        args.prompt, args.model = args.model, None
    else:
        raise CliError("give MODEL or --remote, not both")


@dataclass
class Context:
    """Settings for one run: the config file with the command line on top."""

    paths: Paths
    config: LoadedConfig
    models_dirs: list[str] = field(default_factory=list)  # --models-dir

    @property
    def settings(self) -> Settings:
        return self.config.settings


def open_context(args: argparse.Namespace, err: TextIO = sys.stderr) -> Context:
    paths = resolve_paths(getattr(args, "data_dir", None))
    config = load_config(paths.config_file)
    for problem in config.problems:
        say(f"gguf-tui: warning: {problem}", file=err)
    from gguf_tui.config.logs import setup_logging

    setup_logging(paths.log_file, verbose=getattr(args, "verbose", False))
    return Context(paths, config, list(getattr(args, "models_dir", None) or []))


def load_options(args: argparse.Namespace, settings: Settings):
    from gguf_tui.config import options as settings_options

    given = {name: getattr(args, name, None) for name in LOAD_ARGS}
    return settings_options.load_options(settings, **given)


# The load options on the command line (add_load_options), by their LoadOptions-side name.
LOAD_ARGS = (
    "n_ctx",
    "n_gpu_layers",
    "threads",
    "chat_format",
    "cache_type_k",
    "cache_type_v",
    "flash_attn",
    "n_batch",
    "n_ubatch",
    "use_mmap",
    "use_mlock",
)


def sampling(args: argparse.Namespace, settings: Settings):
    from gguf_tui.config import options as settings_options

    return settings_options.sampling(
        settings,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        min_p=args.min_p,
        repeat_penalty=args.repeat_penalty,
        seed=args.seed,
        think=getattr(args, "think", None),
    )


def system_prompt(args: argparse.Namespace, settings: Settings) -> str:
    return args.system if args.system is not None else settings.system_prompt


def resolve_model(spec: str | None, ctx: Context, remote: str | None = None) -> Path:
    """A model argument (a path, REPO:QUANT, a local model's name) or --remote -> a GGUF path.

    Part of a local model's name will do when only one model fits (stderr says which).
    A Hub model not yet downloaded is fetched first, with a progress bar on stderr.
    """
    spec = remote or spec or last_used_model(ctx.paths, ctx.settings)
    if not spec:
        raise CliError("no model given: pass the path of a .gguf file, or REPO:QUANT")
    path = Path(spec).expanduser()
    if path.exists():
        return path
    from gguf_tui.commands.progress import TerminalProgress
    from gguf_tui.models.catalog import default_dirs, scan
    from gguf_tui.models.hub.errors import HubError
    from gguf_tui.models.resolve import SpecError, resolve_model_spec

    def local_models():
        dirs = default_dirs(ctx.paths.models_dir, ctx.settings.model_dirs, ctx.models_dirs)
        return scan(dirs, cache_file=ctx.paths.scan_cache)

    bar = TerminalProgress(sys.stderr)
    try:
        return resolve_model_spec(
            spec,
            models=local_models,
            download_progress=bar,
            allow_glob=remote is not None,
            note=lambda text: say(f"gguf-tui: {text}"),
        )
    except (SpecError, HubError) as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.finish()


def load_model(engine, path: Path, options, err: TextIO | None = None):
    """Load on the engine thread and wait; notes (e.g. the chat format) go to `err`."""
    from gguf_tui.engine import EngineError

    try:
        info = engine.load(path, options).result()
    except EngineError as exc:
        raise CliError(str(exc)) from None
    if err is not None:
        for note in info.notes:
            say(f"gguf-tui: {note}", file=err)
    return info


def choose_server(args: argparse.Namespace, ctx: Context, err: TextIO = sys.stderr):
    """The server to answer with, or None for a local model; settles the positionals.

    --server wins, else config.toml's `server` when no MODEL (nor --remote) is given.
    With a server, a positional MODEL is the server's model id, and in
    `run --server URL "hi"` the lone positional is the prompt."""
    from gguf_tui.config.servers import ServerConfigError, read_servers, resolve_server

    spec = getattr(args, "server", None)
    table = read_servers(ctx.config.raw)
    if spec is None and not args.model and not getattr(args, "remote", None):
        spec = table.default or None
    if spec is None:
        if getattr(args, "api_model", None):
            raise CliError("--api-model needs --server")
        settle_model_args(args)
        return None
    if getattr(args, "remote", None):
        raise CliError("give --server or --remote, not both")
    for problem in table.problems:
        say(f"gguf-tui: warning: {ctx.config.path}: {problem}", file=err)
    if getattr(args, "prompt", "") is None and args.model is not None:
        args.prompt, args.model = args.model, None
    api_model = getattr(args, "api_model", None)
    if args.model and api_model and args.model != api_model:
        raise CliError("give the server's model as MODEL or --api-model, not both")
    try:
        return resolve_server(
            spec,
            table,
            model=api_model or args.model,
            api_key_env=getattr(args, "api_key_env", None),
            first_byte_timeout=getattr(args, "first_byte_timeout", None),
        )
    except ServerConfigError as exc:
        raise CliError(str(exc)) from None


def make_backend(args: argparse.Namespace, ctx: Context, endpoint, err: TextIO | None):
    """A backend with its model ready: a RemoteEngine on `endpoint` (from
    `choose_server`), else the local Engine with MODEL loaded. Returns (backend, info);
    the caller closes the backend."""
    from gguf_tui.engine import Backend

    backend: Backend
    if endpoint is not None:
        from gguf_tui.engine.remote.engine import RemoteEngine

        backend, target, options = RemoteEngine(endpoint), endpoint.model, None
    else:
        from gguf_tui.engine import Engine

        target = resolve_model(args.model, ctx, getattr(args, "remote", None))
        backend, options = Engine(), load_options(args, ctx.settings)
    try:
        return backend, load_model(backend, target, options, err)
    except BaseException:
        backend.close()
        raise
