"""keymap.py is the one source of every key: each screen's and widget's BINDINGS come from
one of its tables, f1 lists every row, and `[keymap]` accepts every id (issue 12)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.dom import DOMNode

import gguf_tui.tui
from gguf_tui.tui import keymap
from gguf_tui.tui.keymap import SCOPES, KeyAction, check_keymap, to_bindings
from gguf_tui.tui.screens.dialogs import help_sections

# Each class with keys, and the table it says `BINDINGS = to_bindings(...)` of.
TABLE_OF = {
    "GgufTuiApp": keymap.APP_ACTIONS,
    "ChatScreen": keymap.CHAT_ACTIONS,
    "PromptArea": keymap.PROMPT_ACTIONS,
    "ConversationView": keymap.CONVERSATION_ACTIONS,
    "ConversationList": keymap.SIDEBAR_ACTIONS,
    "ModelPicker": keymap.PICKER_ACTIONS,
    "LocalModels": keymap.LOCAL_MODELS_ACTIONS,
    "HubBrowser": keymap.HUB_ACTIONS,
    "QuantSwitcher": keymap.QUANT_SWITCHER_ACTIONS,
    "CompareScreen": keymap.COMPARE_ACTIONS,
    "BenchScreen": keymap.BENCH_ACTIONS,
    "FormScreen": keymap.FORM_ACTIONS,
    "ConfirmScreen": keymap.CONFIRM_ACTIONS,
    "TextPromptScreen": keymap.DIALOG_ACTIONS,
    "ExportScreen": keymap.DIALOG_ACTIONS,
    "HelpScreen": keymap.HELP_ACTIONS,
}
# Still a BINDINGS list of their own (files another change holds): their keys and actions
# must already be the table's, so that switching to `to_bindings(...)` changes nothing but
# the ids. Take a class off this list when it uses its table.
PENDING: set[str] = set()  # every class is made from its table


def classes_with_keys() -> dict[str, type]:
    """Every App, Screen and Widget class of gguf_tui.tui that declares its own BINDINGS."""
    found: dict[str, type] = {}
    root = Path(gguf_tui.tui.__file__).parent  # screens/, widgets/: folders without __init__
    for path in sorted(root.rglob("*.py")):
        name = ".".join(path.relative_to(root.parent.parent).with_suffix("").parts)
        module = importlib.import_module(name.removesuffix(".__init__"))
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == module.__name__
                and issubclass(cls, DOMNode)
                and "BINDINGS" in cls.__dict__
            ):
                found[cls.__name__] = cls
    return found


def shape(binding: Binding | KeyAction) -> tuple[str, str, bool, bool]:
    if isinstance(binding, KeyAction):
        return (binding.keys, binding.action, binding.show, binding.priority)
    return (binding.key, binding.action, binding.show, binding.priority)


def test_every_class_with_keys_has_a_table_and_the_walk_finds_them():
    found = classes_with_keys()
    assert set(found) == set(TABLE_OF), (
        "a class with BINDINGS needs a table in keymap.py (and a line in TABLE_OF): "
        f"{sorted(set(found) ^ set(TABLE_OF))}"
    )


@pytest.mark.parametrize("name", sorted(TABLE_OF))
def test_a_classes_bindings_are_its_tables_rows(name):
    cls, table = classes_with_keys()[name], TABLE_OF[name]
    bindings = [b for b in cls.__dict__["BINDINGS"] if isinstance(b, Binding)]
    assert len(bindings) == len(cls.__dict__["BINDINGS"]), "a binding that is not a Binding"
    rows = [shape(a) for a in table]
    if name in PENDING:  # each of its keys already a row (the table may be ahead of it)
        assert [shape(b) for b in bindings if shape(b) not in rows] == []
        return
    # Made by to_bindings: the same keys, and every row's id, so [keymap] reaches it.
    assert [shape(b) for b in bindings] == rows
    built = [b for b in to_bindings(table) if isinstance(b, Binding)]
    assert [(b.id, b.description, b.tooltip) for b in bindings] == [
        (b.id, b.description, b.tooltip) for b in built
    ]


def test_every_row_has_its_own_id_and_no_scope_gives_one_key_twice():
    rows = [a for _, actions in SCOPES for a in actions]
    ids = [a.id for a in rows]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    tables = {id(actions) for _, actions in SCOPES}
    assert {id(t) for t in TABLE_OF.values()} <= tables, "a class's table is in no scope"
    # Remapping every binding to its own default is accepted: no default clashes.
    defaults = {a.id: a.keys for a in rows}
    assert check_keymap(defaults) == (defaults, [])


def test_ids_users_already_have_in_their_config_stay_accepted():
    kept = {
        "picker.sort": "ctrl+o",
        "picker.close": "ctrl+w",
        "compare.left": "a",
        "send": "ctrl+s",
        "newline": "shift+enter",
        "stop": "escape",  # its own default: escape types nothing
    }
    assert check_keymap(kept) == (kept, [])


def test_help_lists_every_row_with_its_keys_and_id_and_follows_a_remap():
    sections = help_sections({"new_chat": "ctrl+t", "picker.sort": "f12", "pick_model": "f11"})
    listed = {row[2]: row for _, rows in sections for row in rows if row[2]}
    for _, actions in SCOPES:
        for a in actions:
            assert a.id in listed, f"{a.id} is not in the help"
            keys, text, _ = listed[a.id]
            assert text == a.help
            if a.id not in ("new_chat", "picker.sort", "pick_model"):
                assert keys == ", ".join(a.keys.split(",")), (a.id, keys)
    assert listed["new_chat"][0] == "ctrl+t" and listed["picker.sort"][0] == "f12"
    titles = [title for title, _ in sections]
    assert "Model picker (f11)" in titles and not any("{" in t for t in titles), titles
