"""The import layering of the package is a contract (issue 21), checked on the source.

Every module of `symdiff/` belongs to one layer of `LAYERS` through its unit
(`symdiff.<first name>`: a subpackage or a top-level module). An import may
reach the same layer or a lower one, never a higher one, and no two modules,
nor two units, may import each other, directly or around a longer loop.
Imports inside functions count like those at the top of a module: a lazy
import is still a dependency, and only hides a cycle.

The check reads the source with `ast` (nothing is imported), so it sees the
static imports only (`importlib.import_module` of a computed name is not
seen). docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symdiff"

# Lowest first. Data flows frontend -> transforms -> optimize -> codegen -> backends; imports run
# the other way: a stage imports the stages whose output it consumes, and api imports them all.
LAYERS: list[tuple[str, set[str]]] = [
    # Leaves: import nothing of symdiff but errors. compose (functions built from source text) and
    # structured (pytree arguments) are used by the frontend and by api alike, so they sit here.
    (
        "base",
        {
            "symdiff.errors",
            "symdiff.version",
            "symdiff.compose",
            "symdiff.structured",
            "symdiff.progress",
            "symdiff.directions",
        },
    ),
    # The IR and the derivative table. misc (autograd's flatten and optimizers) is plain NumPy on
    # top of compose; the frontend lowers calls to misc.flatten, so it sits below the frontend.
    ("ir and rules", {"symdiff.ir", "symdiff.rules", "symdiff.misc"}),
    ("analysis", {"symdiff.analysis"}),
    ("stages", {"symdiff.frontend", "symdiff.codegen", "symdiff.optimize"}),
    ("transforms", {"symdiff.transforms"}),
    # Backends lower what transforms, optimize and codegen produce; api calls them, never the reverse.
    ("backends", {"symdiff.backends"}),
    # build_cache keys a build by what the frontend reads and stores it through backends.cache.
    ("api", {"symdiff.api", "symdiff.build_cache"}),
    (
        "built on api",
        {
            "symdiff.higher",
            "symdiff.sparse",
            "symdiff.sparsity",
            "symdiff.coloring",
            "symdiff.set_arrays",
            "symdiff.check",
            "symdiff.testing",
            "symdiff.extend",
            "symdiff.cli",
            "symdiff.distributed",
        },
    ),
    ("package root", {"symdiff", "symdiff.__main__"}),
]

# (importing module, imported module) -> why the import is allowed against the contract.
# Empty: add an entry only with the reason, and an issue to remove it.
EXCEPTIONS: dict[tuple[str, str], str] = {}


class Import(NamedTuple):
    source: str  # the importing module
    target: str  # the imported module (the package for a name it defines)
    where: str  # path:line of the import statement


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _resolve(name: str, modules: set[str]) -> str:
    """The module `name` is or lies in: `symdiff.api.grad` -> `symdiff.api`."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def _targets(node: ast.AST, package: str, modules: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: `from . import x` in package p is `from p import x`
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
    # `from symdiff.backends import cache` imports the module symdiff.backends.cache
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]


def imports(package: Path = PACKAGE) -> list[Import]:
    """Every import of a symdiff module by a symdiff module, at any depth of the code."""
    paths = sorted(package.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    found: dict[Import, None] = {}  # in order, once each (`from m import a, b` names m twice)
    for path in paths:
        source = module_name(path)
        own_package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _targets(node, own_package, modules):
                if target == "symdiff" or target.startswith("symdiff."):
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found[Import(source, _resolve(target, modules), where)] = None
    return list(found)


def layer_of(module: str) -> int | None:
    return next((k for k, (_, units) in enumerate(LAYERS) if unit(module) in units), None)


def upward(found: list[Import]) -> list[str]:
    """Imports that reach a higher layer than their own."""
    problems = []
    for item in found:
        low, high = layer_of(item.source), layer_of(item.target)
        if low is not None and high is not None and high > low and (item.source, item.target) not in EXCEPTIONS:
            problems.append(
                f"{item.where}: {item.source} (layer {LAYERS[low][0]!r}) imports {item.target} "
                f"(layer {LAYERS[high][0]!r}, above it)"
            )
    return problems


def cycles(edges: list[tuple[str, str, Import]]) -> list[list[Import]]:
    """The imports inside each strongly connected group of nodes (Tarjan's algorithm, iterative)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b, _ in edges:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return [[item for a, b, item in edges if a in group and b in group] for group in groups]


def cycle_problems(found: list[Import]) -> list[str]:
    """Loops of imports between modules, and between units (a loop through several modules of each)."""
    kept = [item for item in found if (item.source, item.target) not in EXCEPTIONS]
    by_module = [(i.source, i.target, i) for i in kept if i.source != i.target]
    by_unit = [(unit(i.source), unit(i.target), i) for i in kept if unit(i.source) != unit(i.target)]
    problems = []
    for kind, edges in (("modules", by_module), ("packages", by_unit)):
        for loop in cycles(edges):
            lines = "".join(f"\n    {i.where}: {i.source} imports {i.target}" for i in loop)
            problems.append(f"an import cycle between {kind}:{lines}")
    return problems


def test_every_module_has_a_layer():
    missing = sorted({module_name(p) for p in PACKAGE.rglob("*.py") if layer_of(module_name(p)) is None})
    assert not missing, f"add these to LAYERS in tests/test_architecture.py and to docs/architecture.md: {missing}"


def test_no_import_reaches_a_higher_layer():
    problems = upward(imports())
    assert not problems, "imports against the layering (issue 21):\n" + "\n".join(problems)


def test_no_import_cycles():
    problems = cycle_problems(imports())
    assert not problems, "\n".join(problems)


def test_every_exception_is_still_needed():
    found = {(i.source, i.target) for i in imports()}
    stale = sorted(set(EXCEPTIONS) - found)
    assert not stale, f"remove these from EXCEPTIONS, the imports are gone: {stale}"


def test_the_checks_catch_what_they_are_for():
    planted = [
        Import("symdiff.ir.nodes", "symdiff.api", "symdiff/ir/nodes.py:1"),
        Import("symdiff.ir.nodes", "symdiff.ir.show", "symdiff/ir/nodes.py:2"),
        Import("symdiff.ir.show", "symdiff.ir.nodes", "symdiff/ir/show.py:3"),
        Import("symdiff.frontend.lower", "symdiff.codegen.emit", "symdiff/frontend/lower.py:4"),
        Import("symdiff.codegen.layout", "symdiff.frontend.source", "symdiff/codegen/layout.py:5"),
    ]
    (up,) = upward(planted)
    assert up.startswith("symdiff/ir/nodes.py:1: symdiff.ir.nodes") and "imports symdiff.api" in up
    module_loop, unit_loop = cycle_problems(planted)
    assert "between modules" in module_loop and "symdiff/ir/show.py:3" in module_loop
    assert "between packages" in unit_loop and "symdiff/codegen/layout.py:5" in unit_loop


def test_the_architecture_page_names_every_unit():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    absent = sorted(u for _, units in LAYERS for u in units if u.removeprefix("symdiff.") not in page)
    assert not absent, f"docs/architecture.md does not name {absent}"
