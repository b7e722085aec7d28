"""No import circle between the files of gguf_tui: data flows one way (screens observe
what the app publishes; the app never imports a screen's caller back).

The graph is built with `ast` from the source, so it cannot be fooled by import order:
every `import` counts, at the top of a module or inside a function (a lazy import
still ties two files together), except those under `if TYPE_CHECKING:` (annotations
only, as import-linter's exclude_type_checking_imports). A package's `__init__` is a
file too: a submodule importing its own package facade is a circle.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gguf_tui"


@cache
def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    files = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _imports(tree: ast.AST):
    """Every import statement, in functions too, but not under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.orelse:
                yield from _imports(ast.Module(body=[statement], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    is_package = module_files(PACKAGE).get(module, Path()).name == "__init__.py"
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    files = module_files(package)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = _resolve(module, node)
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            targets.update(n for n in names if n in files and n != module)
        graph[module] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one file (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_finder_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [frozenset({"a", "b", "c"})]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_counts_imports_inside_functions_not_type_checking_ones():
    graph = import_graph()
    # the chat screen opens compare lazily (inside a method): still an edge.
    assert "gguf_tui.tui.screens.compare" in graph["gguf_tui.tui.screens.chat"]
    # every screen names the app for its annotations only.
    assert "gguf_tui.tui.app" not in graph["gguf_tui.tui.screens.chat"]


def test_no_circle_anywhere_in_the_package():
    found = circles(import_graph())
    assert not found, [sorted(c) for c in found]


def test_no_engine_submodule_imports_the_engine_facade():
    """`gguf_tui.engine` re-exports the engine for callers outside it; a submodule that
    imported it back would tie itself to every other submodule the facade pulls in."""
    graph = import_graph()
    inside = [m for m in graph if m.startswith("gguf_tui.engine.")]
    assert inside
    assert not [m for m in inside if "gguf_tui.engine" in graph[m]]
