"""Saving one per-model profile (`[models."NAME"]`) from the settings screen.

config/toml_edit.py rewrites top-level keys and `[keymap]` in place but not tables two
levels deep, and a full rewrite would drop the user's comments. A profile is one table of
its own, so its section is replaced whole (from its header to the next header), or
appended; the rest of the file stays byte for byte. The result must parse to exactly the
intended settings, or the whole file is written the usual way (save_config, which keeps
a .bak of the old text).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from gguf_tui.config.settings import ConfigError, LoadedConfig, save_config

_HEADER = re.compile(r"^[ \t]*\[")


def _header_names(name: str) -> set[str]:
    bare = name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else None
    quoted = {f'"{name}"', f"'{name}'"} | ({bare} if bare else set())
    return {f"models.{q}" for q in quoted}


def _section(name: str, profile: dict[str, Any]) -> list[str]:
    import json

    import tomli_w

    if not profile:
        return []  # JSON's string escapes are TOML's (and the result is parsed to check)
    return [f"[models.{json.dumps(name)}]", *tomli_w.dumps(profile).splitlines(), ""]


def profile_text(text: str, name: str, profile: dict[str, Any]) -> str | None:
    """`text` with the `[models."NAME"]` table replaced by `profile` (removed when it is
    empty); None when the file is not laid out so that this is sure to be right."""
    try:
        before = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return None
    lines = text.splitlines()
    wanted = _header_names(name)
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if _HEADER.match(line) and re.sub(r"\s+", "", line.split("#")[0])[1:-1] in wanted
        ),
        None,
    )
    section = _section(name, profile)
    if start is None:
        new_lines = [*lines, *([""] if lines and lines[-1].strip() else []), *section]
    else:
        end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
        new_lines = [*lines[:start], *section, *lines[end:]]
    new_text = "\n".join(new_lines).rstrip("\n") + "\n"
    expected = dict(before)
    models = dict(expected.get("models", {}))
    if profile:
        models[name] = profile
    else:
        models.pop(name, None)
    if models:
        expected["models"] = models
    else:
        expected.pop("models", None)
    try:
        return new_text if tomllib.loads(new_text) == expected else None
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return None


def profile_name(config: LoadedConfig, path: Path, base_name: str) -> str:
    """The [models."NAME"] a model file's settings go to: the profile that already names
    it (by base name or Hub repo), else its base name."""
    from gguf_tui.engine.options import profile_names

    names = profile_names(path)
    return next((n for n in config.settings.models if n.lower() in names), base_name)


def save_profile(config: LoadedConfig, name: str, profile: dict[str, Any]) -> None:
    """Save `profile` as `[models."NAME"]` (an empty one removes it) and use it from now
    on. OSError or ConfigError when it cannot be written."""
    from gguf_tui.store.files import MAX_SETTINGS_BYTES, FileError, read_bytes, write_atomic

    if config.broken:
        raise ConfigError(f"{config.path} could not be read, so it is left untouched")
    try:
        text = read_bytes(config.path, MAX_SETTINGS_BYTES).decode("utf-8")
    except FileNotFoundError:
        text = ""
    except (FileError, UnicodeDecodeError) as exc:
        raise ConfigError(str(exc)) from None
    models = dict(config.settings.models)
    if profile:
        models[name] = dict(profile)
    else:
        models.pop(name, None)
    new_text = profile_text(text, name, profile)
    if new_text is None:  # an unusual layout: the whole file, with a .bak of the old one
        config.settings.models = models
        save_config(config)
        return
    try:
        config.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(config.path, new_text.encode("utf-8"))
    except FileError as exc:
        raise ConfigError(str(exc)) from None
    config.settings.models = models
    config.raw = tomllib.loads(new_text)
