"""The route table is the single source: every handler serves exactly its rows."""

import importlib
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router

from core.http import RouteMismatch, registered_row, route
from core.routes import BASE_PATH, FEED, FUNCTIONS, GET_POST, ROUTES, routes_of

ROOT = Path(__file__).resolve().parents[2]
API_FUNCTIONS = [f.name for f in FUNCTIONS if f.kind == "api"]


def test_rows_are_unique_and_well_formed() -> None:
    keys = Counter((r.method, r.path) for r in ROUTES)
    assert [k for k, n in keys.items() if n > 1] == []
    names = {f.name for f in FUNCTIONS}
    for row in ROUTES:
        assert row.method in {"GET", "POST", "PUT", "PATCH", "DELETE"}
        assert row.path.startswith(BASE_PATH + "/")
        assert row.function in names


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


@pytest.mark.parametrize("name", API_FUNCTIONS)
def test_every_route_is_registered_by_its_row(name: str) -> None:
    """With core.http.route (the row, its path written once), not with a path of its own."""
    app = importlib.import_module(f"{name}.handler").app
    for served in app._static_routes + app._dynamic_routes:
        row = registered_row(served.func)
        assert row is not None, f"{name}: {served.method} {served.path} names its path instead of a row"
        assert (served.method, served.path) == (row.method, row.resolver_path)


def test_route_refuses_a_copy_of_a_row() -> None:
    copy = replace(FEED)  # equal to the row, but not the table's: the path written twice
    with pytest.raises(RouteMismatch, match="is not a row of the route table"):
        route(Router(), copy)(_handler_of("posts.handler"))


def test_route_refuses_another_functions_row() -> None:
    with pytest.raises(RouteMismatch, match="served by 'posts', not 'likes'"):
        route(Router(), FEED)(_handler_of("likes.routers.feed"))


def test_route_registers_the_rows_method_and_path() -> None:
    router = Router()
    handler = _handler_of("posts.routers.x")
    assert route(router, GET_POST, summary="one")(handler) is handler
    assert registered_row(handler) is GET_POST
    [(key, func)] = router._routes.items()
    assert key[:2] == ("/api/v1/posts/<post_id>", ("GET",)) and func is handler


def _handler_of(module: str) -> Callable[[], None]:
    def handler() -> None:
        return None

    handler.__module__ = module
    return handler


def test_functions_write_no_path_of_the_api() -> None:
    """Paths are the route table's: a handler, a router or a response builder names a row instead."""
    copies = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "functions").rglob("*.py"))
        if BASE_PATH + "/" in path.read_text(encoding="utf-8")
    ]
    assert copies == []


def test_url_fills_the_rows_parameters() -> None:
    assert GET_POST.url(post_id="p1") == "/api/v1/posts/p1"
