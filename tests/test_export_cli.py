"""`gguf-tui export` run as a user would, and import of history files and exports."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from gguf_tui.cli import build_app_parser
from gguf_tui.config.settings import resolve_paths
from gguf_tui.store.database import Store
from gguf_tui.store.export import (
    conversation_to_markdown,
    import_conversations,
    import_history_file,
)
from gguf_tui.store.history import HistoryError, dump_history, load_history
from tests.support.cli import gguf_tui

STATS = {
    "prompt_tokens": 20,
    "generated_tokens": 42,
    "generation_tokens_per_second": 31.46,
    "time_to_first_token": 0.125,
}


def assert_one_line_error(proc, text: str) -> None:
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("gguf-tui: error:") and text in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.fixture
def store():
    """The database the CLI finds (the data dir conftest points GGUF_TUI_DATA_DIR at)."""
    with Store(resolve_paths().database) as s:
        yield s


def thinking_chat(store: Store):
    conv = store.create_conversation()
    store.add_message(conv.id, "system", "You are terse.")
    store.add_message(conv.id, "user", "Why is the sky blue? ☀️")
    answer = store.add_message(
        conv.id, "assistant", "", model_file="/models/Qwen3-0.6B-Q4_K_M.gguf", quant="Q4_K_M"
    )
    store.update_message(
        answer.id,
        "Rayleigh scattering.",
        reasoning="Short wavelengths scatter more.",
        stats=STATS,
        finish_reason="stop",
    )
    return store.get_conversation(conv.id)


def test_markdown_export_reads_like_the_chat(store):
    conv = thinking_chat(store)
    out = gguf_tui("export", conv.id)
    assert out.returncode == 0, out.stderr
    md = out.stdout
    assert md.startswith("# Why is the sky blue? ☀️\n")
    order = ["## System", "You are terse.", "## User", "## Assistant", "<details>"]
    order += ["Short wavelengths scatter more.", "</details>", "Rayleigh scattering."]
    positions = [md.index(part) for part in order]
    assert positions == sorted(positions)
    footer = md.strip().splitlines()[-1]
    assert (
        footer == "*Qwen3-0.6B-Q4_K_M.gguf · Q4_K_M · 42 tokens · 31.5 tok/s · first token 125 ms*"
    )


def test_markdown_says_when_an_answer_was_cut_short(store):
    conv = store.create_conversation("Cut")
    store.add_message(conv.id, "user", "go on")
    answer = store.add_message(conv.id, "assistant", "half an ans")
    md = conversation_to_markdown(conv, store.messages(conv.id))
    assert md.rstrip().endswith("*unfinished*")
    store.update_message(answer.id, "half an answer", finish_reason="stopped")
    md = conversation_to_markdown(conv, store.messages(conv.id))
    assert md.rstrip().endswith("*stopped*")


def test_json_export_keeps_everything(store):
    conv = thinking_chat(store)
    out = gguf_tui("export", "--last", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["title"] == conv.title and data["quant"] == "Q4_K_M"
    assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant"]
    answer = data["messages"][2]
    assert answer["content"] == "Rayleigh scattering."
    assert answer["reasoning"] == "Short wavelengths scatter more."
    assert answer["model_file"] == "/models/Qwen3-0.6B-Q4_K_M.gguf"
    assert answer["stats"] == STATS and answer["finish_reason"] == "stop"
    created = datetime.fromisoformat(answer["created"]).timestamp()
    assert abs(created - store.messages(conv.id)[2].created_at) < 0.002


def test_history_export_is_the_chat_py_format(store, tmp_path):
    conv = thinking_chat(store)
    out = gguf_tui("export", conv.id, "--format", "history")
    assert out.returncode == 0, out.stderr
    expected = [m.as_chat() for m in store.messages(conv.id)]
    assert out.stdout == dump_history(expected)  # byte for byte what chat.py writes
    file = tmp_path / "history.json"
    file.write_text(out.stdout, encoding="utf-8")
    assert load_history(file) == expected


def test_all_list_and_search(store):
    first = thinking_chat(store)
    second = store.create_conversation("Bread")
    store.add_message(second.id, "user", "How long does sourdough rise?")

    listed = gguf_tui("export", "--list").stdout.splitlines()
    assert [line.split()[0] for line in listed] == [str(second.id), str(first.id)]
    assert listed[0].endswith("Bread") and " 1 " in listed[0]

    data = json.loads(gguf_tui("export", "--all", "--format", "json").stdout)
    assert [c["title"] for c in data] == ["Bread", first.title]
    md = gguf_tui("export", "--all").stdout
    assert md.count("\n---\n") == 1 and md.index("# Bread") < md.index("# Why is the sky")
    only = json.loads(gguf_tui("export", "--all", "--format", "json", "--search", "sourd").stdout)
    assert [c["title"] for c in only] == ["Bread"]


def test_export_errors_are_one_line(store, tmp_path):
    assert_one_line_error(gguf_tui("export", "--last", "--data-dir", tmp_path / "new"), "no conv")
    assert not (tmp_path / "new" / "conversations.sqlite3").exists()
    assert_one_line_error(gguf_tui("export", "--last"), "no conversations yet")
    thinking_chat(store)
    assert_one_line_error(gguf_tui("export", "4242"), "no conversation with ID 4242")
    assert_one_line_error(gguf_tui("export", "--all", "--format", "history"), "one conversation")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "conversations.sqlite3").write_bytes(b"not sqlite at all " * 500)
    assert_one_line_error(gguf_tui("export", "--last", "--data-dir", broken), "not a conversation")


def test_data_dir_option_picks_the_database(tmp_path):
    with Store(tmp_path / "elsewhere" / "conversations.sqlite3") as other:
        conv = other.create_conversation("Elsewhere")
    out = gguf_tui("export", conv.id, "--data-dir", tmp_path / "elsewhere")
    assert out.returncode == 0 and out.stdout.startswith("# Elsewhere")


# --- import ---------------------------------------------------------------------------------


def test_a_chat_py_history_round_trips(store, tmp_path):
    messages = [
        {"role": "system", "content": "Tu es un assistant."},
        {"role": "user", "content": "Écris un haïku\nsur la mer."},
        {"role": "assistant", "content": "Vagues sans repos…"},
    ]
    file = tmp_path / "history.json"
    file.write_text(dump_history(messages), encoding="utf-8")
    conv = import_history_file(store, file)
    assert conv.title == "Écris un haïku" and conv.message_count == 3
    assert store.last_conversation().id == conv.id  # the import is at the top
    assert [m.as_chat() for m in store.messages(conv.id)] == messages
    out = gguf_tui("export", conv.id, "--format", "history")
    assert out.stdout == file.read_text(encoding="utf-8")
    assert import_history_file(store, file, title="Mer").title == "Mer"


def test_our_json_export_imports_back_the_same(store, tmp_path):
    original = thinking_chat(store)
    file = tmp_path / "export.json"
    file.write_text(gguf_tui("export", original.id, "--format", "json").stdout, encoding="utf-8")
    copy = import_history_file(store, file)
    assert copy.id != original.id and copy.title == original.title
    assert (copy.model_file, copy.quant) == (original.model_file, original.quant)

    def shape(m):
        return (m.role, m.content, m.reasoning, m.model_file, m.quant, m.stats, m.finish_reason)

    old, new = store.messages(original.id), store.messages(copy.id)
    assert [shape(m) for m in new] == [shape(m) for m in old]
    assert all(abs(a.created_at - b.created_at) < 0.002 for a, b in zip(old, new, strict=True))


def test_a_whole_backup_imports_back(store, tmp_path):
    thinking_chat(store)
    bread = store.create_conversation("Bread")
    store.add_message(bread.id, "user", "Rye or wheat?")
    file = tmp_path / "all.json"
    file.write_text(gguf_tui("export", "--all", "--format", "json").stdout, encoding="utf-8")
    with Store(tmp_path / "restored.sqlite3") as fresh:
        imported = import_conversations(fresh, file)
        assert sorted(c.title for c in imported) == ["Bread", "Why is the sky blue? ☀️"]
        assert fresh.count_conversations() == 2 and fresh.count_conversations("rye") == 1
    with pytest.raises(HistoryError, match="2 conversations"):
        import_history_file(store, file)


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("{not json", "not valid JSON"),
        ('{"title": "x"}', "'messages' should be a list"),
        ('[{"role": "robot", "content": "beep"}]', "needs a role"),
        ('[{"role": "user", "content": 3}]', "text 'content'"),
        ("[]", "holds no messages"),
        ('{"messages": [{"role": "user", "content": "hi", "created": "yesterday"}]}', "ISO 8601"),
        ('[{"messages": []}, {"messages": [{"role": "user"}]}]', "conversation 2: message 1"),
    ],
)
def test_a_bad_file_imports_nothing_and_says_why(store, tmp_path, text, fault):
    file = tmp_path / "bad.json"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(HistoryError, match=fault) as caught:
        import_conversations(store, file)
    assert str(file) in str(caught.value)
    assert store.count_conversations() == 0


def test_the_app_takes_a_file_to_import():
    args = build_app_parser().parse_args(["--import", "~/old/history.json"])
    assert args.import_file == "~/old/history.json" and args.model is None
