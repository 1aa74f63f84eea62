"""Dependencies point one way: no import cycles among the modules of infra_cdk/, local/ and bench/,
and CDK constructs import nothing from the stacks (stacks attach constructs, never the reverse).

The graph is read from the sources with `ast`, so nothing is imported: every `import` and
`from ... import` counts, at module level or inside a function (a deferred import hides a
cycle from Python's import machinery, not from the design); only imports under
`if TYPE_CHECKING:` do not, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("infra_cdk", "local", "bench")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if any(part.startswith(".") or part == "__pycache__" for part in parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node of the tree, except the bodies of `if TYPE_CHECKING:` (their `else` runs)."""
    yield node
    if _type_checking(node):
        assert isinstance(node, ast.If)
        children: list[ast.AST] = list(node.orelse)
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        yield from _runtime_nodes(child)


def _imported(module: str, path: Path) -> Iterator[str]:
    """The modules of MODULES that `module` imports (`from a import b` counts a.b when it is a module)."""
    is_package = path.name == "__init__.py"
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            # The deepest module of MODULES the name is or lies in.
            parts = name.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in MODULES:
                    if candidate != module:
                        yield candidate
                    break


GRAPH = {module: sorted(set(_imported(module, path))) for module, path in MODULES.items()}


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_the_packages() -> None:
    assert {"infra_cdk.app", "infra_cdk.stacks.api", "local.stack", "local.aws", "bench.coldstart"} <= set(GRAPH)
    assert "infra_cdk.stacks.api" in GRAPH["infra_cdk.app"]


def test_type_checking_imports_do_not_count(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from local import stack\n"
        "else:\n    import local.aws\ndef f():\n    from local import pump\n",
        encoding="utf-8",
    )
    assert set(_imported("local.m", source)) == {"local", "local.aws", "local.pump"}  # not local.stack


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package: str) -> None:
    graph = {m: [n for n in deps if n.split(".")[0] == package] for m, deps in GRAPH.items() if m.startswith(package)}
    assert _cycles(graph) == []


def test_no_import_cycles_across_the_packages() -> None:
    assert _cycles(GRAPH) == []


def test_constructs_import_nothing_from_the_stacks() -> None:
    offending = {
        module: [n for n in deps if n.startswith("infra_cdk.stacks")]
        for module, deps in GRAPH.items()
        if module.startswith("infra_cdk.constructs")
    }
    assert {m: deps for m, deps in offending.items() if deps} == {}
