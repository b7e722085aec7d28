"""Settings (`config.toml`) and where gguf-tui keeps its files.

The file is read with tomllib (a regular file of at most 1 MiB, store/files.py). Saving
rewrites only the lines of the settings that changed (config/toml_edit.py), so comments, order
and keys this version does not know stay as the user wrote them; a symlinked config.toml
is written through to its target. A file that does not parse is reported with its line
and never overwritten: the user's own text is worth more than our defaults.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

APP_NAME = "gguf-tui"
CONFIG_FILE = "config.toml"


@dataclass(frozen=True, slots=True)
class Paths:
    """Every folder the app writes to, resolved once at start-up."""

    data_dir: Path
    config_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE

    @property
    def database(self) -> Path:
        return self.data_dir / "conversations.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "gguf-tui.log"

    @property
    def scan_cache(self) -> Path:
        return self.data_dir / "scan-cache.json"


def resolve_paths(data_dir: str | os.PathLike | None = None) -> Paths:
    """`--data-dir` beats `GGUF_TUI_DATA_DIR` beats platformdirs' user data dir."""
    import platformdirs

    chosen = data_dir or os.environ.get("GGUF_TUI_DATA_DIR")
    data = Path(chosen).expanduser() if chosen else Path(platformdirs.user_data_dir(APP_NAME))
    config_env = os.environ.get("GGUF_TUI_CONFIG_DIR")
    config = (
        Path(config_env).expanduser()
        if config_env
        else Path(platformdirs.user_config_dir(APP_NAME))
    )
    return Paths(data_dir=data, config_dir=config)


@dataclass(slots=True)
class Settings:
    """Everything a user can set; field names are the keys of config.toml."""

    model_dirs: list[str] = field(default_factory=list)
    default_model: str = ""
    n_ctx: int = 4096
    n_gpu_layers: int | str = "auto"  # "auto", -1 = all, or a count
    threads: int = 0  # 0 = llama.cpp's choice
    chat_format: str = ""  # "" = the model's own template
    cache_type_k: str = "f16"
    cache_type_v: str = "f16"
    flash_attn: str = "auto"
    n_batch: int = 512
    n_ubatch: int = 512
    use_mmap: bool = True
    use_mlock: bool = False
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 0  # 0 = until the model stops or the window is full
    think: str = ""  # "" = the template's default; on, off, low, medium, high (THINK_MODES)
    system_prompt: str = ""
    theme: str = "textual-dark"
    keymap: dict[str, str] = field(default_factory=dict)
    # [models."NAME"]: load and sampling settings of one model family (PROFILE_KEYS)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


# What a [models."NAME"] profile may set: how the model loads and how it samples.
PROFILE_KEYS = (
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
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "max_tokens",
    "think",
)


# One line per key, for the settings screen and docs/configuration.md.
SETTING_HELP: dict[str, str] = {
    "model_dirs": "extra folders searched for .gguf files (the app's own models folder "
    "and the Hugging Face cache are always searched)",
    "default_model": "the model opened at start when none is given (empty: the last one used)",
    "n_ctx": "context window in tokens (0 = the model's training context); rounded down "
    "to a multiple of 256",
    "n_gpu_layers": "layers offloaded to the GPU (auto = as many as free GPU memory holds, "
    "-1 = all); needs a GPU build",
    "threads": "CPU threads for generation (0 = llama.cpp's choice)",
    "chat_format": "prompt format instead of the model's own template (chatml, gemma, "
    "llama-3, …; empty = the template)",
    "cache_type_k": "KV cache type for keys: f16, q8_0, q4_0, … (llama.cpp --cache-type-k); "
    "q8_0 halves the cache",
    "cache_type_v": "KV cache type for values (llama.cpp --cache-type-v); a quantized one "
    "needs flash attention",
    "flash_attn": "flash attention: auto, on or off (llama.cpp --flash-attn)",
    "n_batch": "prompt tokens read per step (llama.cpp --batch-size)",
    "n_ubatch": "prompt tokens computed at once, at most n_batch (llama.cpp --ubatch-size)",
    "use_mmap": "map the model file instead of reading it into memory (false = --no-mmap)",
    "use_mlock": "keep the model in RAM, never swapped out (llama.cpp --mlock)",
    "temperature": "randomness of answers (0 = always the most likely token)",
    "top_p": "nucleus sampling: keep the most likely tokens up to this probability",
    "top_k": "keep only this many most likely tokens (0 = all)",
    "min_p": "drop tokens less likely than this fraction of the most likely one",
    "repeat_penalty": "discourage repeating recent tokens (1 = off)",
    "max_tokens": "longest answer in tokens (0 = until the model stops or the window is full)",
    "think": "on or off: let a model with a thinking switch (Qwen3's enable_thinking) reason "
    "first, or not; low, medium or high for gpt-oss's reasoning_effort (on = its default, "
    "off = low) (empty = the template's default)",
    "system_prompt": "instructions sent before every conversation",
    "theme": "colour theme (textual-dark, textual-light, nord, gruvbox, …)",
    "keymap": 'key bindings by id, e.g. new_chat = "ctrl+t" (f1 lists the ids)',
    "models": 'per-model profiles: [models."NAME"] tables of load and sampling settings, '
    "NAME the model's base name (shared by its quantizations) or its Hugging Face repo",
}


class ConfigError(Exception):
    """The config file could not be used; the message says where and why."""


@dataclass(slots=True)
class LoadedConfig:
    settings: Settings
    path: Path
    raw: dict[str, Any] = field(default_factory=dict)  # the whole file, unknown keys too
    problems: list[str] = field(default_factory=list)  # reported, defaults used instead
    broken: bool = False  # the file did not parse: never write over it


# The smallest value each number may take (n_gpu_layers: -1 = all layers).
_MINIMUM: dict[str, float] = {
    "n_ctx": 0,
    "n_gpu_layers": -1,
    "threads": 0,
    "n_batch": 1,
    "n_ubatch": 1,
    "temperature": 0,
    "top_p": 0,
    "top_k": 0,
    "min_p": 0,
    "repeat_penalty": 0,
    "max_tokens": 0,
}
_MAXIMUM: dict[str, float] = {"top_p": 1, "min_p": 1}


def _check_range(name: str, value: float) -> None:
    """nan, inf and negative counts would reach llama.cpp as nonsense: refuse them by name."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"'{name}' should be a finite number, not {value}")
    low, high = _MINIMUM.get(name), _MAXIMUM.get(name)
    if low is not None and value < low:
        raise ValueError(f"'{name}' should be {low:g} or more, not {value}")
    if high is not None and value > high:
        raise ValueError(f"'{name}' should be {high:g} or less, not {value}")


def check_number(name: str, value: float | None) -> None:
    """The command line's check of a setting's number (None: not given); ValueError if bad."""
    if value is not None:
        _check_range(name, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _choices() -> dict[str, tuple[str, ...]]:
    from gguf_tui.engine.options import CACHE_TYPE_NAMES, FLASH_ATTN_MODES, THINK_MODES

    return {
        "cache_type_k": CACHE_TYPE_NAMES,
        "cache_type_v": CACHE_TYPE_NAMES,
        "flash_attn": tuple(FLASH_ATTN_MODES),
        "think": ("", *THINK_MODES),
    }


def gpu_layers_value(value: Any) -> int | str:
    """n_gpu_layers from config.toml or a form: "auto", or a whole number of -1 or more
    (text of one too: the settings screen gives text). ValueError otherwise."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        try:
            value = int(text)
        except ValueError:
            raise ValueError(
                f"'n_gpu_layers' should be \"auto\" or a whole number, not {value!r}"
            ) from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"'n_gpu_layers' should be \"auto\" or a whole number, not {value!r}")
    _check_range("n_gpu_layers", value)
    return value


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Check a value against the type of its default; raise ValueError if it is wrong."""
    if name == "n_gpu_layers":
        return gpu_layers_value(value)
    if (choices := _choices().get(name)) is not None and isinstance(value, str):
        if value not in choices:
            shown = ", ".join(c or '""' for c in choices)
            raise ValueError(f"'{name}' should be one of {shown}, not {value!r}")
        return value
    if _is_number(value) and _is_number(default):
        _check_range(name, value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, list):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif (
        isinstance(default, dict)
        and isinstance(value, dict)
        and all(isinstance(v, str) for v in value.values())
    ):
        return dict(value)
    kind = type(default).__name__
    if isinstance(default, list):
        kind = "list of strings"
    elif isinstance(default, dict):
        kind = "table of strings"
    article = "an" if kind[0] in "aeiou" else "a"
    raise ValueError(f"'{name}' should be {article} {kind}, not {value!r}")


def _usable(name: str, value: Any, default: Any) -> bool:
    try:
        _coerce(name, value, default)
    except ValueError:
        return False
    return True


def profiles_from_dict(raw: Any) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """[models."NAME"] tables -> profiles; a wrong value or a key a profile cannot set is
    a problem and is left out (the rest of the profile still applies)."""
    if not isinstance(raw, dict):
        return {}, [f"'models' should be tables of [models.\"NAME\"], not {raw!r}"]
    defaults = Settings()
    profiles: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name, table in raw.items():
        where = f'[models."{name}"]'
        if not isinstance(table, dict):
            problems.append(f"{where} should be a table of settings, not {table!r}")
            continue
        profile: dict[str, Any] = {}
        for key, value in table.items():
            if key not in PROFILE_KEYS:
                problems.append(f"{where}: '{key}' cannot be set per model; left out")
                continue
            try:
                profile[key] = _coerce(key, value, getattr(defaults, key))
            except ValueError as exc:
                problems.append(f"{where}: {exc}; left out")
        profiles[str(name)] = profile
    return profiles, problems


def settings_from_dict(raw: dict[str, Any]) -> tuple[Settings, list[str]]:
    """Known keys become Settings; a wrong value is a problem and keeps its default."""
    settings = Settings()
    problems: list[str] = []
    for f in fields(Settings):
        if f.name not in raw:
            continue
        if f.name == "models":
            settings.models, more = profiles_from_dict(raw["models"])
            problems.extend(more)
            continue
        try:
            setattr(settings, f.name, _coerce(f.name, raw[f.name], getattr(settings, f.name)))
        except ValueError as exc:
            problems.append(f"{exc}; using the default")
    return settings, problems


def load_config(path: Path) -> LoadedConfig:
    """Read config.toml; a missing file is simply the defaults."""
    from gguf_tui.store.files import MAX_SETTINGS_BYTES, FileError, read_bytes

    try:
        text = read_bytes(path, MAX_SETTINGS_BYTES).decode("utf-8")
    except FileNotFoundError:
        return LoadedConfig(Settings(), path)
    except FileError as exc:
        message = f"{exc}; using defaults and leaving it as it is"
        return LoadedConfig(Settings(), path, problems=[message], broken=True)
    except (OSError, UnicodeDecodeError) as exc:
        return LoadedConfig(Settings(), path, problems=[f"cannot read {path}: {exc}"], broken=True)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = f"{path} is not valid TOML ({exc}); using defaults and leaving the file as it is"
        return LoadedConfig(Settings(), path, problems=[message], broken=True)
    except (RecursionError, ValueError):  # nested thousands deep; an int of 5,000 digits
        message = (
            f"{path} nests too deep or holds a number too long to read; "
            "using defaults and leaving the file as it is"
        )
        return LoadedConfig(Settings(), path, problems=[message], broken=True)
    settings, problems = settings_from_dict(raw)
    return LoadedConfig(settings, path, raw=raw, problems=[f"{path}: {p}" for p in problems])


def save_config(config: LoadedConfig) -> None:
    """Write the settings back: only the changed keys' lines change (comments, order and
    unknown keys stay), through a symlink to its target. The file is read again first, so
    a hand edit made while the app ran is kept too. OSError or ConfigError when it cannot."""
    import tomli_w

    from gguf_tui.config.toml_edit import update_text
    from gguf_tui.store.files import MAX_SETTINGS_BYTES, FileError, read_bytes, write_atomic

    if config.broken:
        raise ConfigError(f"{config.path} could not be read, so it is left untouched")
    updates: dict[str, Any] = {}
    defaults = Settings()
    for f in fields(Settings):
        value, default = getattr(config.settings, f.name), getattr(defaults, f.name)
        if value == default and f.name not in config.raw:
            continue  # keep the file short: only what the user set
        if value == default and not _usable(f.name, config.raw.get(f.name), default):
            continue  # reported at start and replaced by the default: keep the user's text
        if f.name == "models" and value == profiles_from_dict(config.raw.get("models", {}))[0]:
            continue  # as the file gave them: its text stays, keys left out for a problem too
        updates[f.name] = value
    try:
        text = read_bytes(config.path, MAX_SETTINGS_BYTES).decode("utf-8")
        current = tomllib.loads(text)
    except FileNotFoundError:
        text, current = "", {}
    except FileError as exc:
        raise ConfigError(str(exc)) from None
    except (UnicodeDecodeError, RecursionError, ValueError):
        raise ConfigError(
            f"{config.path} was changed and no longer parses, so it is left untouched"
        ) from None
    data = {**current, **updates}
    if data == current and config.path.exists():
        config.raw = data
        return
    new_text = update_text(text, current, data)
    try:
        if new_text is None:  # a layout the line editor is not sure of: keep a copy
            new_text = tomli_w.dumps(data)
            if text:
                backup = config.path.with_name(config.path.name + ".bak")
                write_atomic(backup, text.encode("utf-8"))
        config.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(config.path, new_text.encode("utf-8"))
    except FileError as exc:
        raise ConfigError(str(exc)) from None
    config.raw = data


# -- state: what the app remembers by itself (kept out of the user's config.toml) ----------


def _state_file(paths: Paths) -> Path:
    return paths.data_dir / "state.json"


def load_state(paths: Paths) -> dict[str, Any]:
    """What the app remembered last time (the last model used); {} when nothing or unreadable
    (a FIFO or a huge file there is ignored, never waited on: store/files.py)."""
    import json

    from gguf_tui.store.files import MAX_SETTINGS_BYTES, FileError, read_bytes

    try:
        data = json.loads(read_bytes(_state_file(paths), MAX_SETTINGS_BYTES))
    except (OSError, ValueError, FileError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(paths: Paths, **values: Any) -> None:
    """Remember values between runs. Writing config.toml for this would drop the user's
    comments and formatting on every model load; a failure here only loses the memory.
    A symlinked state.json is written through; anything but a regular file is left alone."""
    import json

    from gguf_tui.store.files import FileError, write_atomic

    state = {**load_state(paths), **values}
    target = _state_file(paths)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(state, indent=2).encode("utf-8"))
    except (OSError, FileError, ValueError):
        pass


def last_conversation(paths: Paths) -> int | None:
    """The conversation open when the app last closed (it reopens there)."""
    value = load_state(paths).get("last_conversation")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def last_used_model(paths: Paths, settings: Settings) -> str:
    """`default_model` from config.toml when set, else the last model the app loaded."""
    return settings.default_model or str(load_state(paths).get("last_model") or "")
