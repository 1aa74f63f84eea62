"""The functions reach the database one public way: `core.db.session_scope` or `core.db.read`
(with `sqlstate` and its codes to tell errors apart). The lean connection (`lean_query`, `ping`,
`close_lean`) is the authorizer's and the health check's alone; `get_engine` is the migrate
function's (Alembic takes an Engine). No function opens a connection of its own (pg8000,
`create_engine`) or reaches core's wire and internals modules.

Read from the sources with `ast`: every import and every `db.<name>` of a module bound to core.db.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"

PUBLIC = {"session_scope", "read", "sqlstate", "UNIQUE_VIOLATION", "FOREIGN_KEY_VIOLATION"}
LEAN = {"lean_query", "ping", "close_lean"}
LEAN_USERS = {"authorizer", "ops"}  # the authorizer and the health check
ENGINE_USERS = {"migrate"}
FORBIDDEN_MODULES = ("pg8000", "core.pgwire", "core.internals")


def _uses() -> dict[str, dict[str, set[str]]]:
    """function -> core.db name -> the files using it; `!module` entries for forbidden imports."""
    uses: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(FUNCTIONS.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        function, where = path.relative_to(FUNCTIONS).parts[0], str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=where)
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(FORBIDDEN_MODULES):
                        uses[function][f"!{alias.name}"].add(where)
                    if alias.name == "core.db" and alias.asname:
                        aliases.add(alias.asname)
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith(FORBIDDEN_MODULES):
                    uses[function][f"!{node.module}"].add(where)
                for alias in node.names:
                    if node.module == "core.db":
                        uses[function][alias.name].add(where)
                    elif node.module == "core" and alias.name == "db":
                        aliases.add(alias.asname or "db")
                    elif node.module == "core" and alias.name in ("pgwire", "internals"):
                        uses[function][f"!core.{alias.name}"].add(where)
                    elif node.module.startswith("sqlalchemy") and alias.name == "create_engine":
                        uses[function]["!sqlalchemy.create_engine"].add(where)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                owner = node.value
                if (isinstance(owner, ast.Name) and owner.id in aliases) or ast.unparse(owner) == "core.db":
                    uses[function][node.attr].add(where)
                elif ast.unparse(node) == "sqlalchemy.create_engine":
                    uses[function]["!sqlalchemy.create_engine"].add(where)
    return uses


USES = _uses()


def test_only_the_authorizer_and_the_health_check_use_the_lean_connection() -> None:
    lean_users = {function for function, names in USES.items() if LEAN & names.keys()}
    assert lean_users == LEAN_USERS, {f: {n: USES[f][n] for n in LEAN & USES[f].keys()} for f in lean_users}


def test_the_functions_use_the_database_one_public_way() -> None:
    wrong = {}
    for function, names in USES.items():
        allowed = (
            PUBLIC
            | (LEAN if function in LEAN_USERS else set())
            | ({"get_engine"} if function in ENGINE_USERS else set())
        )
        extra = {name: sorted(files) for name, files in names.items() if name not in allowed}
        if extra:
            wrong[function] = extra
    assert wrong == {}, "use core.db.session_scope or core.db.read"


def test_the_check_sees_what_it_polices() -> None:
    assert USES["authorizer"]["lean_query"] and USES["ops"]["ping"] and USES["migrate"]["get_engine"]
    assert USES["posts"]["read"] and USES["posts"]["session_scope"]
