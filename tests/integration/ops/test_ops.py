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
