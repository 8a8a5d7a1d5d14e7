"""The shape of the code: no private names across modules, no import cycles, no huge files.

The layer contract (``lint-imports``, ``[tool.importlinter]`` in pyproject.toml) says which
package may import which; these tests add what it cannot see: a module reaching into
another module's private (underscore) names, and cycles between modules of one package or
through imports made inside functions. Every exception is listed below with its reason,
so that it can be removed when its cause is; an exception that no longer occurs fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "mlscope"

# No exceptions: a name another module needs is public (or moved where both can reach it).
# (importing module, imported-from module, name)
ALLOWED_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()

# No exceptions: the layer contract has no `ignore_imports` either.
# (importing module, imported module)
ALLOWED_CYCLE_EDGES: set[tuple[str, str]] = set()

MAX_LINES = 800
# Files over MAX_LINES, each with the size it may not grow beyond, until it is split.
ALLOWED_LONG_FILES: dict[str, int] = {}
# Most files stay under this; the test below lists any that grow past it.
SOFT_MAX_LINES = 600


# -- the module graph -----------------------------------------------------------------------


def _modules(root: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        out[".".join(parts)] = (path, is_package)
    return out


def _imports(module: str, path: Path, is_package: bool
             ) -> Iterator[tuple[ast.ImportFrom | ast.Import, str]]:
    """Every import in the file, at any depth (functions and ``TYPE_CHECKING`` blocks too),
    with its absolute module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                yield node, ".".join([*base, *([node.module] if node.module else [])])
            else:
                yield node, node.module or ""


def _resolve(name: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    """The module ``name`` names, or the nearest package above it that exists."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports, anywhere in the file (inside
    functions, and for type checking only: a dependency all the same, as for the layer
    contract). ``from pkg import sub`` is an edge to ``pkg.sub``; importing a submodule is
    not counted as importing its package's ``__init__``, so a package that re-exports its
    children is in a cycle only when a child imports the package itself."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        edges: set[str | None] = set()
        for node, target in _imports(module, path, is_package):
            if not target.startswith(root.name):
                continue
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    edges.add(sub if sub in modules else _resolve(target, modules))
            else:
                edges.add(_resolve(target, modules))
        edges.discard(module)
        edges.discard(None)
        graph[module] = {e for e in edges if e is not None}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def private_imports(root: Path = PACKAGE) -> set[tuple[str, str, str]]:
    """(importer, module, name) for each ``from mlscope.x import _y`` (any depth). Aliasing
    a public name to a private local one (``import safe_div as _div``) is fine."""
    found = set()
    for module, (path, is_package) in _modules(root).items():
        for node, target in _imports(module, path, is_package):
            if not isinstance(node, ast.ImportFrom) or not target.startswith(root.name):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add((module, target, alias.name))
    return found


# -- the tests ------------------------------------------------------------------------------


def test_no_module_imports_another_modules_private_names() -> None:
    found = private_imports()
    new = sorted(found - ALLOWED_PRIVATE_IMPORTS)
    assert not new, (
        "private names imported from another module (make the name public, or move it): "
        + "; ".join(f"{m} imports {n} from {t}" for m, t, n in new)
    )
    stale = sorted(ALLOWED_PRIVATE_IMPORTS - found)
    assert not stale, f"no longer imported, remove from ALLOWED_PRIVATE_IMPORTS: {stale}"


def test_no_import_cycles() -> None:
    graph = import_graph()
    present = {(a, b) for a, b in ALLOWED_CYCLE_EDGES if b in graph.get(a, set())}
    stale = sorted(ALLOWED_CYCLE_EDGES - present)
    assert not stale, f"no longer imported, remove from ALLOWED_CYCLE_EDGES: {stale}"
    for a, b in ALLOWED_CYCLE_EDGES:
        graph[a].discard(b)
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(
        " <-> ".join(c) + " (" + ", ".join(f"{a} -> {b}" for a in c
                                           for b in sorted(graph[a] & set(c))) + ")"
        for c in found
    )


def test_the_graph_sees_cycles_and_function_level_imports(tmp_path: Path) -> None:
    # The checks above pass only if they would fail: a cycle through an import inside a
    # function, one through a type-checking import, and a package __init__ re-exporting a
    # child that imports it back.
    pkg = tmp_path / "mlscope"
    (pkg / "metrics").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "metrics" / "__init__.py").write_text("from mlscope.metrics.registry import get\n")
    (pkg / "metrics" / "registry.py").write_text(
        "def get():\n    from mlscope.metrics import binary\n    return binary\n"
    )
    (pkg / "metrics" / "binary.py").write_text("from mlscope.metrics.registry import get as _get\n")
    (pkg / "metrics" / "spec.py").write_text("from mlscope.metrics.registry import _x\n")
    assert cycles(import_graph(pkg)) == [["mlscope.metrics.binary", "mlscope.metrics.registry"]]
    assert private_imports(pkg) == {("mlscope.metrics.spec", "mlscope.metrics.registry", "_x")}
    (pkg / "metrics" / "binary.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mlscope import metrics\n"
    )
    assert cycles(import_graph(pkg)) == [["mlscope.metrics", "mlscope.metrics.binary",
                                          "mlscope.metrics.registry"]]
    (pkg / "metrics" / "binary.py").write_text("")
    assert cycles(import_graph(pkg)) == []


def test_no_source_file_is_too_long() -> None:
    sizes = {
        path.relative_to(SRC).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(SRC.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
        and path.suffix not in {".pyc", ".typed"}
    }
    too_long = {
        name: n for name, n in sizes.items()
        if n > ALLOWED_LONG_FILES.get(name, MAX_LINES)
    }
    assert not too_long, f"files over {MAX_LINES} lines (split them): {too_long}"


def test_files_stay_in_rooms_of_one_purpose() -> None:
    """The design keeps each module under ~600 lines; the hard limit above is 800."""
    over = sorted(
        path.relative_to(SRC).as_posix() for path in SRC.rglob("*.py")
        if len(path.read_text(encoding="utf-8").splitlines()) > SOFT_MAX_LINES
    )
    assert not over, f"modules over {SOFT_MAX_LINES} lines (split by responsibility): {over}"
