"""No function pays for SQLAlchemy's ORM (issue 16.5): the schema is Core tables (core.models) and
every unit of work a Core Connection (core.db.session_scope). Importing `sqlalchemy.orm` costs a
cold start ~54 ms and its mapper configuration more on the first query."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "functions", ROOT / "layers" / "core" / "python" / "core")


def _orm_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found += [n for n in names if n == "sqlalchemy.orm" or n.startswith(("sqlalchemy.orm.", "core.orm"))]
    return found


def test_no_source_imports_the_orm() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for root in SOURCES
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts and (found := _orm_imports(path))
    }
    assert offenders == {}


CHILD = """
import importlib, json, sys
from core.routes import FUNCTIONS
loaded = {}
for name in sorted(spec.name for spec in FUNCTIONS):
    importlib.import_module(f"{name}.handler")
    loaded[name] = sorted(m for m in sys.modules if m == "sqlalchemy.orm" or m.startswith("sqlalchemy.orm."))[:3]
print(json.dumps(loaded))
"""


def test_no_function_loads_the_orm_at_import() -> None:
    """Each handler in turn, in one fresh interpreter: the first to pull the ORM in is named."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/core/python"), str(ROOT / "functions")])}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(loaded) >= 10
    assert {name: mods for name, mods in loaded.items() if mods} == {}
