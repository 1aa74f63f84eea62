"""Health and OpenAPI through the real handler and the embedded PostgreSQL."""

import json
import os
from typing import Any

import pytest

from local.events import proxy_event
from ops.handler import handler
from tests.conftest import reset_app_state


def get(path: str) -> tuple[int, Any, dict[str, list[str]]]:
    response = handler(proxy_event("GET", path), None)
    return response["statusCode"], json.loads(response["body"]), response["multiValueHeaders"]


def test_health_reaches_the_database(db: str) -> None:
    status, body, headers = get("/api/v1/health")
    assert (status, body) == (200, {"status": "ok", "db": "ok"})
    assert headers["Content-Type"] == ["application/json; charset=utf-8"]


def test_health_is_503_with_retry_after_when_the_database_is_down(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from local.postgres import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql+pg8000://postgres@127.0.0.1:{free_port()}/app")
    reset_app_state()
    try:
        status, body, headers = get("/api/v1/health")
    finally:
        monkeypatch.setenv("DATABASE_URL", db)
        reset_app_state()
    assert status == 503
    assert body["error"]["code"] == "unavailable"
    assert headers["Retry-After"] == ["5"]
    assert get("/api/v1/health")[0] == 200


def test_recovers_without_restart_after_the_server_restarts(db: str, postgres_server: Any) -> None:
    assert get("/api/v1/health")[0] == 200
    postgres_server.stop()
    try:
        assert get("/api/v1/health")[0] == 503
    finally:
        postgres_server.start()
    assert get("/api/v1/health")[0] == 200


def test_openapi_document_is_served_and_current() -> None:
    from local.openapi import OUTPUT, render

    status, body, _ = get("/api/v1/openapi.json")
    assert status == 200
    assert body["openapi"].startswith("3.")
    assert body == json.loads(OUTPUT.read_text())
    assert OUTPUT.read_text() == render(), "functions/ops/openapi.json is stale: run `make openapi`"


def test_openapi_lists_every_route_with_its_security() -> None:
    from core.routes import ROUTES

    _, body, _ = get("/api/v1/openapi.json")
    for route in ROUTES:
        operation = body["paths"][route.path][route.method.lower()]
        assert ("security" in operation) == route.auth
        assert "500" in operation["responses"]


def test_database_url_comes_from_the_fixture(db: str) -> None:
    assert os.environ["DATABASE_URL"] == db


def _request_string_schemas(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every string schema a request may carry (parameters and bodies, through $refs)."""
    components = document["components"]["schemas"]
    found: list[dict[str, Any]] = []

    def visit(schema: Any, seen: frozenset[str] = frozenset()) -> None:
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                visit(components[name], seen | {name})
            return
        if schema.get("type") == "string":
            found.append(schema)
        for key in ("items", "additionalProperties"):
            visit(schema.get(key), seen)
        for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
            visit(option, seen)
        for value in schema.get("properties", {}).values():
            visit(value, seen)

    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                visit(parameter["schema"])
            for media in operation.get("requestBody", {}).get("content", {}).values():
                visit(media["schema"])
    return found


def test_no_request_string_the_document_allows_holds_a_nul() -> None:
    """core.http refuses NUL anywhere; the document must not call such input valid (contract fuzzing)."""
    import re

    _, document, _ = get("/api/v1/openapi.json")
    strings = _request_string_schemas(document)
    assert len(strings) > 20
    probes = ["\x00", "a\x00", "\x00a", "a\x00@b.co", "a@b\x00.co", "a@b.c\x00", "https://\x00", "a\x00b"]
    for schema in strings:
        if schema.get("format") in ("uuid", "date-time") or "enum" in schema:
            continue
        assert "pattern" in schema, schema
        assert not [p for p in probes if re.search(schema["pattern"], p)], schema["pattern"]


def test_every_list_declares_the_exact_shape_of_its_cursors() -> None:
    import re

    _, document, _ = get("/api/v1/openapi.json")
    patterns = {}
    for path, operations in document["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["name"] == "cursor":
                (option, _null) = parameter["schema"]["anyOf"]
                patterns[path] = option["pattern"]
    assert len(patterns) >= 11
    assert len(set(patterns.values())) == len(patterns)  # one list's cursor is not another's
    # A path that serves one key in several orders (messages: newest first, or after_seq's oldest
    # first) names each order's tag: a cursor says which list it continues.
    tags = r"([A-Za-z0-9_-]{4}|\(\?:[A-Za-z0-9_-]{4}(\|[A-Za-z0-9_-]{4})+\))"
    for pattern in patterns.values():
        assert re.fullmatch(rf"\^{tags}\[A-Za-z0-9_-\]\{{\d+\}}(\[[A-Za-z0-9]+\])?\$", pattern), pattern
