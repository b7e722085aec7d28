"""A hostile `[keymap]` (issue 16): every entry that cannot work is refused with a notice
that names the key, and the default is kept; entries that can work still apply."""

from __future__ import annotations

import pytest

from gguf_tui.config.settings import resolve_paths
from gguf_tui.tui.keymap import check_keymap, key_problem
from tests.support.fake_engine import FakeEngine
from tests.support.tui import make_app, notifications, wait_until


@pytest.mark.parametrize(
    ("keymap", "says"),
    [
        ({"new_chat": "ctrl+q"}, "ctrl+q is already the key of quit"),
        ({"picker.close": "ctrl+q"}, "ctrl+q is already the key of quit"),
        ({"new_chat": "ctrl+banana"}, "'banana' is not a key"),
        ({"new_chat": "hyper+super+x+y"}, "is not a modifier"),
        ({"stop": "enter"}, "enter is needed for typing in the prompt"),
        ({"new_chat": "a"}, "a is needed for typing"),
        ({"help": "question_mark"}, "question_mark is needed for typing"),
        ({"no_such_action": "ctrl+t"}, "there is no binding 'no_such_action'"),
        ({"new_chat": 5}, "not a list of keys"),
        ({"new_chat": ""}, "not a list of keys"),
        ({"new_chat": "ctrl+t,"}, "not a list of keys"),
    ],
)
def test_a_key_that_cannot_work_is_refused_by_name(keymap, says):
    accepted, problems = check_keymap(keymap)
    assert accepted == {} and len(problems) == 1, problems
    assert says in problems[0] and "keymap: " in problems[0], problems
    assert "\n" not in problems[0] and len(problems[0]) < 200


def test_keys_that_can_work_are_kept():
    good = {
        "new_chat": "ctrl+t",
        "settings": "ctrl+comma,f10",
        "copy_message": "x",  # not a priority binding: letters are fine where no text is typed
        "picker.sort": "ctrl+n",  # the picker is another screen than new_chat's
        "search": "ctrl+shift+f",
        "new_chat_swap": None,
    }
    good.pop("new_chat_swap")
    assert check_keymap(good) == (good, [])
    swapped = {"new_chat": "ctrl+q", "quit": "ctrl+n"}  # a swap is no conflict
    assert check_keymap(swapped) == (swapped, [])
    assert key_problem("f24") is None and key_problem("ctrl+full_stop") is None


async def test_the_app_names_each_refused_key_and_keeps_the_default(tmp_path):
    paths = resolve_paths(tmp_path)
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(
        '[keymap]\nnew_chat = "ctrl+q"\nrename = "ctrl+banana"\nstop = "enter"\n'
        'nope = "f7"\nsearch = "ctrl+t"\n',
        encoding="utf-8",
    )
    app = make_app(tmp_path, engine=FakeEngine())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "nope" in notifications(app), what="keymap notices")
        shown = notifications(app)
        for says in (
            "ctrl+q is already the key of quit",
            "'banana' is not a key",
            "enter is needed",
        ):
            assert says in shown, shown
        assert app.screen.active_bindings  # the app runs
        keys = {b.binding.id: b.binding.key for b in app.screen.active_bindings.values()}
        assert keys.get("new_chat", "ctrl+n") == "ctrl+n"
        assert any(
            b.binding.id == "search" for k, b in app.screen.active_bindings.items() if k == "ctrl+t"
        )
