"""The route table is the single source: every handler serves exactly its rows."""

import importlib
from collections import Counter
from pathlib import Path

import pytest

from core.routes import BASE_PATH, FUNCTIONS, ROUTES, routes_of

ROOT = Path(__file__).resolve().parents[2]
API_FUNCTIONS = [f.name for f in FUNCTIONS if f.kind == "api"]


def test_rows_are_unique_and_well_formed() -> None:
    keys = Counter((r.method, r.path) for r in ROUTES)
    assert [k for k, n in keys.items() if n > 1] == []
    names = {f.name for f in FUNCTIONS}
    for route in ROUTES:
        assert route.method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert route.path.startswith(BASE_PATH + "/")
        assert route.function in names


def test_every_function_has_its_package() -> None:
    for spec in FUNCTIONS:
        assert (ROOT / "functions" / spec.name / "handler.py").is_file(), spec.name
        assert (ROOT / "functions" / spec.name / "__init__.py").is_file(), spec.name


@pytest.mark.parametrize("name", API_FUNCTIONS)
def test_handler_serves_exactly_its_rows(name: str) -> None:
    app = importlib.import_module(f"{name}.handler").app
    served = {(r.method, r.path) for r in app._static_routes + app._dynamic_routes}
    expected = {(r.method, r.resolver_path) for r in routes_of(name)}
    assert served == expected


def test_resolver_path_spells_parameters_the_powertools_way() -> None:
    from core.routes import Route

    assert Route("GET", "/api/v1/posts/{post_id}/likes", "x", False).resolver_path == "/api/v1/posts/<post_id>/likes"
