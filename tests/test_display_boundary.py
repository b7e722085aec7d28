"""The display boundary is a rule the code keeps: a scan of gguf_tui/ with `ast`.

Text from outside (model output, GGUF metadata and file names, Hub names, server ids and
error bodies) reaches a person only through `gguf_tui.tui.text.literal` and targets that
do not read markup (docs/architecture.md, "Text from outside"):

1. Notices: `GgufTuiApp.notify` is the only `notify` defined; it applies `literal` and
   passes `markup=False`; no call asks for markup, none builds a `Notification` itself.
2. `Static`/`Label` (and subclasses' `super().__init__`) with text that is not a
   constant are created with `markup=False`; one with markup on has no `id` (so nothing
   updates it by id), and nothing updates a markup-on widget found by its class.
3. Table rows (`add_row`): each cell is a constant, `cell(...)` (which is `literal`) or
   rich `Text(...)`, never a string that would be read as markup.
4. The command line (cli.py, commands/): what `print` or `.write` puts on stdout/stderr is
   a constant, or passes `literal`/`say`/`write_data` (commands/output.py), or is built
   (`+`, f-string, `if`) only from such parts; `json.dump` to a stream keeps
   `ensure_ascii` (every control character escaped).

Each rule also has a test that it catches a violation, so a rule cannot pass by
matching nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gguf_tui"
WIDGETS = {"Static", "Label"}
RENDERABLES = {"RichMarkdown", "Table", "Text", "Group"}  # rich objects: no markup to read
SAFE_CALLS = {"literal", "cell", "Text", "pasted", "str.join"}
CLI_SAFE_CALLS = {"literal", "say", "write_data"}
OUTPUT_MODULE = "commands/output.py"


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def name_of(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def is_text_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def where(rel: str, node: ast.AST) -> str:
    return f"{rel}:{getattr(node, 'lineno', '?')}"


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def enclosing_function(node: ast.AST, up: dict) -> ast.AST | None:
    while node in up:
        node = up[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return node
    return None


class Safety:
    """Is an expression made only of constants and calls to `allowed` functions?

    A name is followed to its assignments in the same function (all must be safe)."""

    def __init__(self, allowed: set[str], tree: ast.AST) -> None:
        self.allowed = allowed
        self.up = parents(tree)
        self.functions = {
            n.name: n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }

    def __call__(self, node: ast.expr, at: ast.AST | None = None, depth: int = 0) -> bool:
        if depth > 8:
            return False
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str | int | float | type(None))
        if isinstance(node, ast.Call):
            called = name_of(node.func)
            if called in self.allowed:
                return True
            # A function of the same module that returns only safe values (`_status(m)`).
            return called in self.functions and self._returns_safe(called, depth)
        if isinstance(node, ast.JoinedStr):
            return all(self(v, at or node, depth + 1) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self(node.value, at, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self(node.left, at, depth + 1) and self(node.right, at, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):  # ("-",) * 8
            return self(node.left, at, depth + 1)
        if isinstance(node, ast.IfExp):
            return self(node.body, at, depth + 1) and self(node.orelse, at, depth + 1)
        if isinstance(node, ast.Tuple | ast.List):
            return all(self(e, at, depth + 1) for e in node.elts)
        if isinstance(node, ast.Starred):
            return self(node.value, at, depth + 1)
        if isinstance(node, ast.GeneratorExp | ast.ListComp):  # *(cell(x) for x in …)
            return self(node.elt, at, depth + 1)
        if isinstance(node, ast.Name):
            return self._name(node, at or node, depth)
        return False

    def _returns_safe(self, function: str, depth: int) -> bool:
        returns = [
            r.value
            for r in ast.walk(self.functions[function])
            if isinstance(r, ast.Return) and r.value is not None
        ]
        return bool(returns) and all(self(r, r, depth + 1) for r in returns)

    def _name(self, node: ast.Name, at: ast.AST, depth: int) -> bool:
        scope = enclosing_function(at, self.up)
        if scope is None:
            return False
        values = [
            n.value
            for n in ast.walk(scope)
            if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)
        ]
        return bool(values) and all(self(v, at, depth + 1) for v in values)


# -- 1. notices -------------------------------------------------------------------------------
def notify_problems(rel: str, tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "notify":
                    if (rel, node.name) != ("tui/app.py", "GgufTuiApp"):
                        found.append(f"{where(rel, item)}: {node.name} defines notify")
                    elif not _literal_notify(item):
                        found.append(f"{where(rel, item)}: notify must pass literal, markup=False")
        if isinstance(node, ast.Call):
            called = name_of(node.func)
            markup = keyword(node, "markup")
            if called == "notify" and markup is not None and not is_false(markup):
                found.append(f"{where(rel, node)}: notify(markup=…) asks for markup")
            if called in ("Notification", "Notify", "Toast"):
                found.append(f"{where(rel, node)}: {called}(...) bypasses the app's notify")
    return found


def _literal_notify(func: ast.FunctionDef) -> bool:
    calls = [n for n in ast.walk(func) if isinstance(n, ast.Call)]
    forwards = [c for c in calls if name_of(c.func) == "notify"]
    return bool(forwards) and all(
        is_false(keyword(c, "markup"))
        and c.args
        and isinstance(c.args[0], ast.Call)
        and name_of(c.args[0].func) == "literal"
        and isinstance(keyword(c, "title"), ast.Call)
        and name_of(keyword(c, "title").func) == "literal"
        for c in forwards
    )


# -- 2. Static and Label ------------------------------------------------------------------------
def _widget_calls(tree: ast.AST) -> Iterator[ast.Call]:
    """Static(...)/Label(...) calls, and super().__init__(...) in their subclasses."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and name_of(node.func) in WIDGETS:
            yield node
        if isinstance(node, ast.ClassDef) and {name_of(b) for b in node.bases} & WIDGETS:
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "__init__"
                    and isinstance(call.func.value, ast.Call)
                    and name_of(call.func.value.func) == "super"
                ):
                    yield call


def markup_on_selectors(trees: list[tuple[str, ast.AST]]) -> set[str]:
    """`.class` selectors of Static/Label widgets created with markup on."""
    selectors = set()
    for _, tree in trees:
        for call in _widget_calls(tree):
            if not is_false(keyword(call, "markup")):
                classes = keyword(call, "classes")
                if isinstance(classes, ast.Constant) and isinstance(classes.value, str):
                    selectors |= {f".{c}" for c in classes.value.split()}
    return selectors


def widget_problems(rel: str, tree: ast.AST, markup_on: set[str]) -> list[str]:
    found = []
    for call in _widget_calls(tree):
        if is_false(keyword(call, "markup")):
            continue
        content = call.args[0] if call.args else keyword(call, "content")
        renderable = isinstance(content, ast.Call) and name_of(content.func) in RENDERABLES
        if content is not None and not is_text_constant(content) and not renderable:
            found.append(
                f"{where(rel, call)}: a widget with text that is not a constant reads it as markup"
            )
        if keyword(call, "id") is not None:
            found.append(f"{where(rel, call)}: a widget with an id and markup on (updated later?)")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and name_of(node.func) == "update"
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call)
            and name_of(node.func.value.func) in ("query_one", "query")
            and node.func.value.args
            and isinstance(node.func.value.args[0], ast.Constant)
            and str(node.func.value.args[0].value) in markup_on
            and not (node.args and is_text_constant(node.args[0]))
        ):
            found.append(f"{where(rel, node)}: updates a widget that reads markup")
    return found


# -- 3. table rows ------------------------------------------------------------------------------
def row_problems(rel: str, tree: ast.AST) -> list[str]:
    safe = Safety(SAFE_CALLS, tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and name_of(node.func) in ("add_row", "update_cell")):
            continue
        cells = node.args if name_of(node.func) == "add_row" else node.args[2:3]
        found += [
            f"{where(rel, arg)}: a table cell that is not cell(...)/Text(...)"
            for arg in cells
            if not safe(arg, node)
        ]
    return found


# -- 4. the command line ------------------------------------------------------------------------
STREAMS = {"stdout", "stderr", "out", "err", "stream"}


def _receiver(node: ast.expr) -> str:
    return name_of(node)


def cli_problems(rel: str, tree: ast.AST) -> list[str]:
    if not (rel == "cli.py" or rel.startswith("commands/")) or rel == OUTPUT_MODULE:
        return []
    safe = Safety(CLI_SAFE_CALLS, tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = name_of(node.func)
        if (called == "print" and isinstance(node.func, ast.Name)) or (
            called == "write"
            and isinstance(node.func, ast.Attribute)
            and _receiver(node.func.value) in STREAMS
        ):
            bad = [a for a in node.args if not safe(a, node)]
        elif called == "dump" and is_false(keyword(node, "ensure_ascii")):
            bad = [node]  # json.dump straight to a stream: C1 and bidi would go out raw
        else:
            continue
        found += [f"{where(rel, a)}: printed without literal/say/write_data" for a in bad]
    return found


def all_problems() -> list[str]:
    trees = list(modules())
    markup_on = markup_on_selectors(trees)
    found = []
    for rel, tree in trees:
        found += notify_problems(rel, tree)
        found += widget_problems(rel, tree, markup_on)
        found += row_problems(rel, tree)
        found += cli_problems(rel, tree)
    return found


def test_outside_text_passes_the_display_boundary_everywhere():
    assert all_problems() == []


# -- each rule catches what it is for --------------------------------------------------------
BAD = {
    "notify": (
        "tui/screens/x.py",
        "def f(self):\n    self.notify(text, markup=True)\n",
        notify_problems,
    ),
    "notify-defined": (
        "tui/widgets/x.py",
        "class W:\n    def notify(self, m):\n        pass\n",
        notify_problems,
    ),
    "static": ("tui/widgets/x.py", "def f():\n    return Static(name)\n", None),
    "static-id": ("tui/widgets/x.py", "def f():\n    return Label('a', id='t')\n", None),
    "subclass": (
        "tui/widgets/x.py",
        "class S(Static):\n    def __init__(self, t):\n        super().__init__(t)\n",
        None,
    ),
    "update": (
        "tui/widgets/x.py",
        "def f(self):\n    yield Static('h', classes='hint')\n"
        "    self.query_one('.hint').update(name)\n",
        None,
    ),
    "row": ("tui/widgets/x.py", "def f(t, m):\n    t.add_row(m.name, cell('a'))\n", row_problems),
    "row-f-string": (
        "tui/widgets/x.py",
        "def f(t, m):\n    t.add_row(f'{m.size:.2f}')\n",
        row_problems,
    ),
    "print": ("commands/x.py", "def f(e):\n    print(f'gguf-tui: error: {e}')\n", cli_problems),
    "write": ("commands/x.py", "def f(self, t):\n    self.out.write(t)\n", cli_problems),
    "json": (
        "commands/x.py",
        "def f(d):\n    json.dump(d, sys.stdout, ensure_ascii=False)\n",
        cli_problems,
    ),
    "write-name": (
        "cli.py",
        "def f(x):\n    line = x.name\n    sys.stderr.write(line)\n",
        cli_problems,
    ),
}
GOOD = {
    "notify": ("tui/x.py", "def f(self):\n    self.notify(text, markup=False)\n", notify_problems),
    "static": ("tui/x.py", "def f():\n    return Static(name, markup=False)\n", None),
    "row": ("tui/x.py", "def f(t, m):\n    t.add_row(cell(m.name), '', Text('x'))\n", row_problems),
    "print": (
        "commands/x.py",
        "def f(e):\n    line = literal(e)\n    print(f'error: {literal(e)}', line, 'x')\n",
        cli_problems,
    ),
    "write": ("commands/x.py", "def f(self, t):\n    write_data(self.out, t)\n", cli_problems),
}


def _check(rel: str, source: str, rule) -> list[str]:
    tree = ast.parse(source)
    if rule is None:
        return widget_problems(rel, tree, markup_on_selectors([(rel, tree)]))
    return rule(rel, tree)


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_rule_catches_a_violation(case):
    assert _check(*BAD[case]) != []


@pytest.mark.parametrize("case", sorted(GOOD))
def test_each_rule_lets_the_boundary_through(case):
    assert _check(*GOOD[case]) == []
