"""Imports point down only: no import cycle among i2i's modules, and the public names resolve.

The import graph is read from the source with ``ast`` (every ``import`` statement, at module
level or inside functions; imports under ``if TYPE_CHECKING:`` never run and are left out).
``from i2i import NAME`` and ``i2i.NAME`` count as an import of the module that defines NAME
(``i2i`` loads its names lazily), so a cycle through the public facade is found too. The
top-level folders that install into the i2i namespace (plugins/, datasets/, export/) are part
of the graph.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import i2i

ROOT = Path(__file__).resolve().parents[1]
#: Package name -> its folder (see [tool.setuptools] package-dir in pyproject.toml).
PACKAGES = {
    "i2i": "i2i",
    "i2i.plugins": "plugins",
    "i2i.datasets": "datasets",
    "i2i.export": "export",
}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if "templates" in parts:  # files copied out by `i2i plugin new`, not modules
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The i2i modules that ``name`` imports (resolved to the deepest known module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    binds_i2i = False

    def visit(node: ast.AST) -> None:
        nonlocal binds_i2i
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.add(alias.name)
                    binds_i2i |= alias.name == "i2i" and alias.asname is None
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                for alias in child.names:
                    sub = f"{module}.{alias.name}"
                    if sub in modules:
                        found.add(sub)
                    elif module == "i2i" and alias.name in i2i._MODULE_OF:
                        found.add(i2i._MODULE_OF[alias.name])
                    else:
                        found.add(module)
            elif (
                isinstance(child, ast.Attribute)
                and isinstance(child.value, ast.Name)
                and child.value.id == "i2i"
                and child.attr in i2i._MODULE_OF
            ):
                found.add(f"@{child.attr}")
            visit(child)

    visit(tree)
    out: set[str] = set()
    for target in found:
        if target.startswith("@"):
            if binds_i2i:
                out.add(i2i._MODULE_OF[target[1:]])
            continue
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target:
            out.add(target)
    out.discard(name)
    return out


@functools.cache
def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_the_checker_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_graph_resolves_relative_lazy_and_function_level_imports() -> None:
    graph = import_graph()
    assert {"i2i.plugins", "i2i.datasets.unpaired", "i2i.export.engine"} <= graph.keys()
    assert "i2i.datasets.image_io" in graph["i2i.datasets.unpaired"]  # relative import
    assert "i2i.model" in graph["i2i.plugins.cyclegan"]  # i2i.GANModel through the facade
    assert "i2i.cli.train" in graph["i2i.cli.demo"]  # an import inside a function


def test_no_import_cycles() -> None:
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles (imports must point down only): " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_primitives_import_nothing_above_them() -> None:
    graph = import_graph()
    allowed = {"i2i.errors"}
    for name, deps in graph.items():
        if name.startswith("i2i.nn"):
            above = {d for d in deps if not d.startswith("i2i.nn") and d not in allowed}
            assert not above, f"{name} imports {sorted(above)}"


def test_public_names_resolve_and_agree() -> None:
    exported = set(i2i._MODULE_OF)
    assert set(i2i.__all__) == exported | {"__version__"}
    tree = ast.parse((ROOT / "i2i" / "__init__.py").read_text(encoding="utf-8"))
    typed = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for imp in node.body
        if isinstance(imp, ast.ImportFrom)
        for alias in imp.names
        if i2i._MODULE_OF.get(alias.name) == imp.module
    }
    assert typed == exported, "the TYPE_CHECKING imports of i2i/__init__.py differ from _EXPORTS"
    for name in sorted(exported):
        assert getattr(i2i, name) is not None
    assert "GANModel" in dir(i2i)
