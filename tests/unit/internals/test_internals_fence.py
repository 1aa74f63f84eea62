"""Private APIs of libraries are fenced in core.internals, each module with its contract tests and
written against the version the deps layer pins.

- Every module of core/internals names its LIBRARY, WRITTEN_AGAINST and TOUCHES; every internal it
  touches is named in its contract test file, tests/unit/internals/test_<short>_contract.py.
- The installed version, the pin in layers/deps/requirements.txt and WRITTEN_AGAINST agree: a
  bumped pin fails here until the contracts are checked against the new version and
  WRITTEN_AGAINST follows.
- Outside core/internals, core and the functions touch no private name of another object (`x._y`
  with x not self/cls), import no private name, monkeypatch no imported module and call no setattr.
"""

from __future__ import annotations

import ast
import importlib
import re
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "layers" / "core" / "python" / "core"
INTERNALS = CORE / "internals"
REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"
# Row._mapping is SQLAlchemy's public API: the underscore only keeps it apart from column names
# (https://docs.sqlalchemy.org/en/20/core/connections.html#sqlalchemy.engine.Row._mapping).
PUBLIC_DESPITE_UNDERSCORE = {"_mapping"}

MODULES = sorted(path.stem for path in INTERNALS.glob("*.py") if path.stem != "__init__")


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"core.internals.{name}")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[_normalized(match.group(1))] = match.group(2)
    return pins


def _contract_file(name: str) -> Path:
    return ROOT / "tests" / "unit" / "internals" / f"test_{name.split('_')[0]}_contract.py"


def test_the_fence_holds_every_library_we_know_of() -> None:
    assert MODULES == ["pg8000_wire", "powertools_validation", "sqlalchemy_pool"]


@pytest.mark.parametrize("name", MODULES)
def test_each_module_is_written_against_the_pinned_and_installed_version(name: str) -> None:
    module = _module(name)
    library, written_against = module.LIBRARY, module.WRITTEN_AGAINST
    pinned = _pins().get(_normalized(library))
    assert pinned is not None, f"{library} is not pinned with == in {REQUIREMENTS.relative_to(ROOT)}"
    assert pinned == written_against, (
        f"{library} is pinned at {pinned} but core.internals.{name} was written against {written_against}: "
        f"check every internal it lists against {pinned} (tests/unit/internals), then update WRITTEN_AGAINST"
    )
    assert version(library) == pinned, f"{library} {version(library)} is installed, {pinned} is pinned"


@pytest.mark.parametrize("name", MODULES)
def test_each_internal_has_a_contract_test(name: str) -> None:
    module = _module(name)
    assert module.__doc__ and module.WRITTEN_AGAINST in module.__doc__
    contract = _contract_file(name)
    assert contract.is_file(), f"core.internals.{name} has no contract tests ({contract.name})"
    text = re.sub(r'"\s*\n\s*"', "", contract.read_text(encoding="utf-8"))  # implicitly joined strings
    flat = " ".join(text.split())
    for internal in module.TOUCHES:
        short = internal.rsplit(".", 2)
        assert internal in flat or ".".join(short[-2:]) in flat, f"no contract test names {internal}"


def _sources() -> list[Path]:
    paths = [*CORE.rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    return sorted(p for p in paths if INTERNALS not in p.parents and "__pycache__" not in p.parts)


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            if private and not node.module.startswith("core"):
                found.append(f"line {node.lineno}: from {node.module} import {', '.join(private)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
            private = name.startswith("_") and not name.startswith("__") and name not in PUBLIC_DESPITE_UNDERSCORE
            owner = node.value
            mine = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            mine = mine or (isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super")
            if private and not mine:
                found.append(f"line {node.lineno}: .{name}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
            found.append(f"line {node.lineno}: setattr(...)")
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                root = target
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(target, ast.Attribute) and isinstance(root, ast.Name) and root.id in modules:
                    found.append(f"line {node.lineno}: assigns {ast.unparse(target)} (a module's attribute)")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_api_outside_core_internals(path: Path) -> None:
    assert _violations(path) == [], "private APIs go in core/internals/, with a contract test"
