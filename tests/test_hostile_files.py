"""Hostile files and faults outside the database and the GGUF files (issue 16): history and
`--import` files, config.toml, state.json, the log, and the streams a command writes.

Every case runs the real command in a subprocess, as a user would, under a time bound and an
address-space bound (RLIMIT_AS), and checks: the exit status, at most one message line (no
traceback, no "Exception ignored", no recursion error), no signal death, and that files the
app does not own are byte-for-byte and kind-for-kind (a symlink stays a symlink, a FIFO a
FIFO) what they were. A full disk is simulated with RLIMIT_FSIZE (unprivileged: writes past
the limit fail with EFBIG, as writes to a full disk fail with ENOSPC) and with /dev/full.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gguf_tui.config.settings import ConfigError, load_config, save_config
from gguf_tui.store.files import MAX_HISTORY_BYTES, FileError, read_bytes, write_atomic
from gguf_tui.store.history import HistoryError, load_history, save_history

ROOT = Path(__file__).resolve().parents[1]  # the tree whose gguf_tui runs (patched to measure)
SECONDS = 30  # every case: a clear answer well within this (a hang is a failure)
MEMORY = 1 << 30  # address space of a case without a model (a /dev/zero read dies on it)
MEMORY_MODEL = 16 << 30
MODEL_ARGS = ("--n-ctx", "512", "--max-tokens", "4", "--temperature", "0")


@dataclass
class Outcome:
    rc: int | None  # None: killed at the time bound (a hang)
    stdout: bytes
    stderr: str
    wall: float

    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


def cli(
    *args: object,
    home: Path,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    memory: int = MEMORY,
    fsize: int | None = None,
    shell_suffix: str = "",
) -> Outcome:
    """`python -m gguf_tui ARGS` with the app's folders in `home`; `shell_suffix` is added
    to a shell command line (`>&-`, `>/dev/full`)."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    full_env = {
        **os.environ,
        "GGUF_TUI_DATA_DIR": str(home / "data"),
        "GGUF_TUI_CONFIG_DIR": str(home / "config"),
        **(env or {}),
    }
    command = [sys.executable, "-m", "gguf_tui", *map(str, args)]
    if shell_suffix:
        command = ["sh", "-c", 'exec "$@" ' + shell_suffix, "sh", *command]
    began = time.monotonic()
    try:
        proc = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            timeout=SECONDS,
            cwd=ROOT,
            env=full_env,
            preexec_fn=limits,
        )
    except subprocess.TimeoutExpired as exc:
        err = (exc.stderr or b"").decode("utf-8", "replace")
        return Outcome(None, exc.stdout or b"", err, time.monotonic() - began)
    return Outcome(
        proc.returncode,
        proc.stdout,
        proc.stderr.decode("utf-8", "replace"),
        time.monotonic() - began,
    )


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder`: its kind, and its bytes or its link target."""
    seen: dict[str, tuple] = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            seen[str(path)] = ("link", str(path.readlink()))
        elif stat.S_ISREG(st.st_mode):
            seen[str(path)] = ("file", path.read_bytes())
        else:
            seen[str(path)] = ("other", stat.S_IFMT(st.st_mode))
    return seen


def clean(out: Outcome) -> None:
    """No traceback or interpreter noise, and no signal death, whatever the case."""
    assert out.rc is not None, f"hung for {SECONDS} s: {out.stderr[-2000:]}"
    assert out.rc >= 0, f"killed by signal {-out.rc}: {out.stderr[-2000:]}"
    for noise in ("Traceback", "Exception ignored", "recursion", "--- Logging error ---"):
        assert noise not in out.stderr, out.stderr[-3000:]


def one_error(out: Outcome, rc: int = 2) -> str:
    clean(out)
    lines = [line for line in out.lines() if not line.startswith("gguf-tui: warning:")]
    assert out.rc == rc, out.stderr
    assert len(lines) == 1 and lines[0].startswith("gguf-tui: error: "), out.stderr
    return lines[0]


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "config").mkdir()
    return tmp_path


# -- files that are read: history (`chat -i`/`-io`) and `--import` ---------------------------


def _nested(folder: Path) -> Path:
    path = folder / "nested.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    return path


def _long_int(folder: Path) -> Path:
    path = folder / "long-int.json"
    path.write_text('[{"role": "user", "content": "hi", "n": ' + "7" * 5000 + "}]")
    return path


def _surrogate(folder: Path) -> Path:
    path = folder / "surrogate.json"
    path.write_text('[{"role": "user", "content": "a\\ud800b"}]')
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "fifo.json"
    os.mkfifo(path)
    return path


def _zero(folder: Path) -> Path:
    path = folder / "zero.json"
    path.symlink_to("/dev/zero")
    return path


def _huge(folder: Path) -> Path:
    path = folder / "huge.json"
    with path.open("wb") as fh:  # sparse: no disk used
        fh.truncate(MAX_HISTORY_BYTES + 1)
    return path


def _nan_time(folder: Path) -> Path:
    path = folder / "nan-time.json"
    messages = [{"role": "user", "content": "hi", "created": 1e300}]
    path.write_text(json.dumps({"format": "gguf-tui-conversation", "messages": messages}))
    return path


HOSTILE_READS = {
    "nested 100,000 deep": (_nested, "nests deeper than 64 levels"),
    "an int of 5,000 digits": (_long_int, "a number too long"),
    "a lone surrogate": (_surrogate, "not valid Unicode"),
    "a FIFO": (_fifo, "is a named pipe (FIFO)"),
    "a symlink to /dev/zero": (_zero, "is a character device"),
    "a 64 MiB file": (_huge, "is over 64 MiB, the most that is read"),
}


@pytest.mark.parametrize("case", HOSTILE_READS)
def test_a_hostile_history_file_is_one_line_and_changes_nothing(case, home, smollm_path):
    make, expected = HOSTILE_READS[case]
    files = home / "files"
    files.mkdir()
    path = make(files)
    before = snapshot(files)
    for flag in ("-i", "-io"):
        out = cli("chat", smollm_path, flag, path, home=home)
        line = one_error(out)
        assert expected in line, line
        assert out.wall < 15
        assert snapshot(files) == before, f"{flag} changed a file: no temp file, no rewrite"


@pytest.mark.parametrize("case", [*HOSTILE_READS, "a time past the year 9999"])
def test_a_hostile_import_file_is_one_line_and_imports_nothing(case, home):
    make, expected = HOSTILE_READS.get(case, (_nan_time, "should be an ISO 8601 time"))
    files = home / "files"
    files.mkdir()
    path = make(files)
    before = snapshot(files)
    out = cli("--import", path, home=home)
    line = one_error(out)
    assert expected in line, line
    assert snapshot(files) == before


def test_reads_refuse_what_is_not_a_regular_file(tmp_path):
    fifo = _fifo(tmp_path)
    began = time.monotonic()
    with pytest.raises(FileError, match="FIFO"):
        read_bytes(fifo, 100)
    assert time.monotonic() - began < 1  # refused, never waited on
    with pytest.raises(HistoryError, match="character device"):
        load_history(_zero(tmp_path))


# -- files that are written: `chat -o`/`-io`, config.toml, state.json ------------------------


def test_chat_output_through_a_symlink_keeps_the_link(home, smollm_path):
    real = home / "elsewhere" / "history.json"
    real.parent.mkdir()
    real.write_text("[]\n")
    link = home / "history.json"
    link.symlink_to(real)
    out = cli("chat", smollm_path, "-io", link, *MODEL_ARGS, home=home, stdin=b"hello\n")
    clean(out)
    assert out.rc == 0, out.stderr
    assert link.is_symlink() and str(link.readlink()) == str(real)
    saved = json.loads(real.read_text())
    assert [m["role"] for m in saved] == ["user", "assistant"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["history.json"]  # no temp left


@pytest.mark.parametrize("target", ["fifo", "/dev/null", "link to /dev/null", "folder"])
def test_chat_output_refuses_what_is_not_a_regular_file(target, home, smollm_path):
    files = home / "files"
    files.mkdir()
    if target == "fifo":
        path = _fifo(files)
    elif target == "folder":
        path = files / "dir"
        path.mkdir()
    elif target == "link to /dev/null":
        path = files / "null.json"
        path.symlink_to("/dev/null")
    else:
        path = Path("/dev/null")
    before = snapshot(files)
    null = Path("/dev/null").stat()
    out = cli("chat", smollm_path, "-o", path, *MODEL_ARGS, home=home, stdin=b"hello\n")
    line = one_error(out)
    assert "regular file" in line or "is a folder" in line, line
    assert out.wall < 10  # refused before the model loads
    assert snapshot(files) == before
    after = Path("/dev/null").stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == null.st_ino


def test_a_failed_history_save_is_said_once_and_exits_1(home, smollm_path):
    path = home / "history.json"
    path.write_text("[]\n")
    stdin = b"hello\nhello again\n"
    # Files may not grow past 64 bytes: the history cannot be written, as on a full disk.
    out = cli("chat", smollm_path, "-o", path, *MODEL_ARGS, home=home, stdin=stdin, fsize=64)
    clean(out)
    assert out.rc == 1, out.stderr
    errors = [line for line in out.lines() if line.startswith("gguf-tui: error:")]
    assert len(errors) == 1 and f"cannot save {path}" in errors[0], out.stderr
    assert path.read_text() == "[]\n"  # the old history is intact
    assert sorted(p.name for p in home.iterdir()) == ["config", "data", "history.json"]


def test_a_lone_surrogate_from_a_server_is_saved_as_a_replacement_character(tmp_path):
    path = tmp_path / "h.json"
    save_history(path, [{"role": "assistant", "content": "a\ud800b"}])
    assert load_history(path) == [{"role": "assistant", "content": "a\ufffdb"}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.json"]


def test_write_atomic_keeps_permissions_and_leaves_no_temp_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o640

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, b"newer")
    monkeypatch.undo()
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


HAND_EDITED = """\
# my settings: keep this comment
temperature = 0.5  # warm, but not too warm
custom_key = "kept"   # a key gguf-tui does not know

model_dirs = [
    "~/models",
]

[keymap]
# my keys
new_chat = "ctrl+t"

[servers.local]
url = "http://127.0.0.1:8080/v1"
"""


def test_settings_save_keeps_comments_unknown_keys_and_the_symlink(tmp_path):
    real = tmp_path / "dotfiles" / "gguf-tui.toml"
    real.parent.mkdir()
    real.write_text(HAND_EDITED)
    link = tmp_path / "config" / "config.toml"
    link.parent.mkdir()
    link.symlink_to(real)
    config = load_config(link)
    assert config.problems == []
    config.settings.temperature = 0.7
    config.settings.top_k = 20
    config.settings.keymap = {"new_chat": "ctrl+n", "quit": "ctrl+q"}
    save_config(config)
    assert link.is_symlink() and str(link.readlink()) == str(real)
    text = real.read_text()
    expected = (
        HAND_EDITED.replace("temperature = 0.5  #", "temperature = 0.7 #")
        .replace('new_chat = "ctrl+t"', 'new_chat = "ctrl+n"\nquit = "ctrl+q"')
        .replace("]\n\n[keymap]", "]\ntop_k = 20\n\n[keymap]")
    )
    assert text == expected
    assert sorted(p.name for p in real.parent.iterdir()) == ["gguf-tui.toml"]
    assert load_config(link).settings.temperature == 0.7


def test_settings_save_refuses_a_config_that_is_a_device(tmp_path):
    link = tmp_path / "config.toml"
    link.symlink_to("/dev/null")
    config = load_config(link)
    assert config.broken and "is a character device" in config.problems[0], config.problems
    config.settings.temperature = 0.1
    with pytest.raises(ConfigError, match="left untouched"):
        save_config(config)
    assert link.is_symlink() and stat.S_ISCHR(Path("/dev/null").stat().st_mode)


def test_state_json_that_is_a_fifo_is_ignored_not_waited_on(tmp_path):
    from gguf_tui.config.settings import Paths, load_state, save_state

    paths = Paths(data_dir=tmp_path, config_dir=tmp_path)
    os.mkfifo(tmp_path / "state.json")
    began = time.monotonic()
    assert load_state(paths) == {}
    save_state(paths, last_model="x")
    assert time.monotonic() - began < 1
    assert stat.S_ISFIFO((tmp_path / "state.json").stat().st_mode)


# -- config.toml values and structure ---------------------------------------------------------


def test_a_deeply_nested_config_is_one_warning_not_a_broken_command(home):
    config = home / "config" / "config.toml"
    config.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    before = config.read_bytes()
    out = cli("export", "--list", home=home)
    clean(out)
    warnings = [line for line in out.lines() if line.startswith("gguf-tui: warning:")]
    assert len(warnings) == 1 and "nests too deep" in warnings[0], out.stderr
    assert out.rc == 2 and "no conversations yet" in out.stderr  # the command itself ran
    assert config.read_bytes() == before


def _long_toml_int(folder: Path) -> Path:
    path = folder / "config.toml"
    path.write_text("n_ctx = " + "9" * 5000 + "\n")
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_fifo, "is a named pipe (FIFO), not a regular file"),
        (_zero, "is a character device, not a regular file"),
        (_huge, "is over 1 MiB"),
        (_long_toml_int, "holds a number too long"),
    ],
    ids=["fifo", "dev-zero", "huge", "long-int"],
)
def test_a_hostile_config_file_is_one_problem_and_never_written(make, expected, tmp_path):
    path = make(tmp_path)
    began = time.monotonic()
    config = load_config(path)
    assert time.monotonic() - began < 1
    assert config.broken and len(config.problems) == 1 and expected in config.problems[0]
    with pytest.raises(ConfigError):
        save_config(config)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("temperature = nan", "temperature"),
        ("top_p = inf", "top_p"),
        ("min_p = -inf", "min_p"),
        ("threads = -4", "threads"),
        ("n_ctx = -1", "n_ctx"),
    ],
)
def test_nonsense_numbers_in_config_are_named_and_not_used(line, key, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(line + "\n")
    config = load_config(path)
    assert len(config.problems) == 1 and f"'{key}'" in config.problems[0], config.problems
    assert getattr(config.settings, key) == getattr(type(config.settings)(), key)


@pytest.mark.parametrize(
    "option", [("--temperature", "nan"), ("--top-p", "inf"), ("--threads", "-4")]
)
def test_nonsense_numbers_on_the_command_line_are_refused_by_name(option, home, smollm_path):
    out = cli("run", smollm_path, "hi", *option, home=home)
    line = one_error(out)
    assert option[0] in line, line


# -- streams: stdout full or closed, stdin not UTF-8 ------------------------------------------


@pytest.fixture
def one_conversation(home) -> Path:
    from gguf_tui.store.database import Store
    from gguf_tui.store.records import NewMessage

    with Store(home / "data" / "conversations.sqlite3") as store:
        messages = [NewMessage("user", "hi"), NewMessage("assistant", "hello " * 60_000)]
        store.import_conversation("t", messages)
    return home


def test_export_to_a_full_disk_is_one_line_and_exit_1(one_conversation):
    out = cli("export", "--all", home=one_conversation, shell_suffix=">/dev/full")
    line = one_error(out, rc=1)
    assert "cannot write the output: No space left on device" in line, line


def test_run_and_chat_to_a_full_disk_are_one_line_and_keep_the_history(home, smollm_path):
    out = cli("run", smollm_path, "hi", *MODEL_ARGS, home=home, shell_suffix=">/dev/full")
    line = one_error(out, rc=1)
    assert "No space left on device" in line, line
    history = home / "history.json"
    args = ("chat", smollm_path, "-o", history, *MODEL_ARGS)
    out = cli(*args, home=home, stdin=b"hello\n", shell_suffix=">/dev/full")
    clean(out)
    assert out.rc == 1, out.stderr
    assert isinstance(json.loads(history.read_text()), list)  # saved on the way out


def test_a_closed_stderr_is_no_crash(home):
    out = cli("export", "--list", home=home, shell_suffix="2>&-")
    assert out.rc == 2 and out.stdout == b""  # the message had nowhere to go, and went nowhere


def test_export_into_a_closed_pipe_is_quiet(one_conversation):
    out = cli("export", "--all", home=one_conversation, shell_suffix="| true")
    clean(out)
    assert out.rc == 0 and out.stderr == "", out.stderr


@pytest.mark.parametrize("command", ["export", "run"])
def test_a_closed_stdout_is_one_line(command, one_conversation, smollm_path):
    args = ("export", "--all") if command == "export" else ("run", smollm_path, "hi")
    before = snapshot(one_conversation / "data")
    out = cli(*args, home=one_conversation, shell_suffix=">&-")
    line = one_error(out)
    assert "stdout is closed" in line, line
    assert snapshot(one_conversation / "data") == before  # nothing printed into a file


@pytest.mark.parametrize("command", ["run", "chat"])
def test_stdin_that_is_not_utf8_in_a_strict_locale_is_one_line(command, home, smollm_path):
    env = {"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "", "PYTHONUTF8": "0"}
    out = cli(command, smollm_path, *MODEL_ARGS, home=home, stdin=b"caf\xe9\n", env=env)
    clean(out)
    assert out.rc == 2, out.stderr
    errors = [line for line in out.lines() if line.startswith("gguf-tui:")]
    assert errors == ["gguf-tui: error: the input is not UTF-8 text (byte 0xe9 at 3)"], out.stderr


# -- the log: a full disk, a log that is not a file, no writable data folder -------------------


def test_a_full_disk_under_the_log_does_not_break_a_model_load(home, smollm_path):
    log = home / "data" / "logs" / "gguf-tui.log"
    log.parent.mkdir()
    log.write_bytes(b"x" * 100_000)
    out = cli("run", smollm_path, "hi", *MODEL_ARGS, home=home, fsize=100_000, memory=MEMORY_MODEL)
    clean(out)
    assert out.rc == 0, out.stderr
    assert out.stdout.strip()
    assert log.stat().st_size == 100_000


def test_a_log_that_is_dev_full_and_a_data_folder_that_cannot_exist(home, smollm_path):
    log = home / "data" / "logs" / "gguf-tui.log"
    log.parent.mkdir()
    log.symlink_to("/dev/full")
    out = cli("run", smollm_path, "hi", *MODEL_ARGS, home=home, memory=MEMORY_MODEL)
    clean(out)
    assert out.rc == 0 and out.stdout.strip(), out.stderr
    (home / "blocker").write_text("a file where a folder should be")
    env = {"GGUF_TUI_DATA_DIR": str(home / "blocker" / "data")}
    out = cli("run", smollm_path, "hi", *MODEL_ARGS, home=home, env=env, memory=MEMORY_MODEL)
    clean(out)
    assert out.rc == 0 and out.stdout.strip(), out.stderr


def test_the_log_rotates_at_its_stated_size(tmp_path):
    import logging

    from gguf_tui.config.logs import LOG_BACKUPS, LOG_MAX_BYTES, setup_logging

    log = tmp_path / "logs" / "gguf-tui.log"
    setup_logging(log)
    try:
        line = "x" * 1000
        for _ in range(int(LOG_MAX_BYTES * (LOG_BACKUPS + 2) / 1000)):
            logging.getLogger("t").info(line)
        files = sorted(log.parent.iterdir())
        assert len(files) == LOG_BACKUPS + 1
        assert all(f.stat().st_size <= LOG_MAX_BYTES + 2000 for f in files)
    finally:
        setup_logging(None)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", 'temperature = 0.3\n\n[keymap]\nnew_chat = "ctrl+n"\n'),
        (
            "# only a comment\n",
            '# only a comment\ntemperature = 0.3\n\n[keymap]\nnew_chat = "ctrl+n"\n',
        ),
        (
            "keymap = { quit = 'ctrl+q' }  # mine\ntheme = 'nord'\n",
            'keymap = { quit = "ctrl+q", new_chat = "ctrl+n" } # mine\n'
            "theme = 'nord'\ntemperature = 0.3\n",
        ),
        (
            "[servers.a]\nurl = 'x'  # s\n",
            "temperature = 0.3\n\n[servers.a]\nurl = 'x'  # s\n\n[keymap]\nnew_chat = \"ctrl+n\"\n",
        ),
        (
            "temperature = 1.0 # has a # in it: '#'\n[keymap]\nnew_chat = 'x' # old\n",
            "temperature = 0.3 # has a # in it: '#'\n[keymap]\nnew_chat = \"ctrl+n\" # old\n",
        ),
    ],
    ids=["empty", "comment-only", "inline-keymap", "tables-only", "comments-with-hash"],
)
def test_settings_save_edits_only_the_changed_lines(before, after, tmp_path):
    path = tmp_path / "config.toml"
    if before:
        path.write_text(before)
    config = load_config(path)
    config.settings.temperature = 0.3
    config.settings.keymap = {**config.settings.keymap, "new_chat": "ctrl+n"}
    save_config(config)
    assert path.read_text() == after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_layout_the_editor_is_unsure_of_is_rewritten_with_a_backup(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("# mine\nkeymap.quit = 'ctrl+q'\n")
    config = load_config(path)
    config.settings.keymap = {"quit": "ctrl+x"}
    save_config(config)
    assert (tmp_path / "config.toml.bak").read_text() == "# mine\nkeymap.quit = 'ctrl+q'\n"
    assert load_config(path).settings.keymap == {"quit": "ctrl+x"}


def test_write_export_is_as_safe_as_a_history_save(tmp_path):
    from gguf_tui.store.export import write_export

    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    write_export(link, "# a\ud800b\n")
    assert link.is_symlink() and real.read_text() == "# a\ufffdb\n"
    os.mkfifo(tmp_path / "fifo.md")
    with pytest.raises(FileError, match="FIFO"):
        write_export(tmp_path / "fifo.md", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.md", "link.md", "real.md"]


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs, filled to the last byte (root only; skipped elsewhere)."""
    where = tmp_path / "full"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("no tmpfs can be mounted here (needs root); RLIMIT_FSIZE covers it")
    try:
        (where / "data" / "logs").mkdir(parents=True)
        with (where / "filler").open("wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_really_full_disk_under_the_data_folder(full_disk, home, smollm_path):
    env = {"GGUF_TUI_DATA_DIR": str(full_disk / "data")}
    out = cli("run", smollm_path, "hi", *MODEL_ARGS, home=home, env=env, memory=MEMORY_MODEL)
    clean(out)
    assert out.rc == 0 and out.stdout.strip(), out.stderr
