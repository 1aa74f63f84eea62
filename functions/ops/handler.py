"""Operations routes: health check and the OpenAPI document."""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from typing import Any

from core import db
from core.http import lambda_handler, make_resolver, route
from core.routes import HEALTH, OPENAPI
from ops import logic
from ops.schemas import Health

app = make_resolver()


@route(app, HEALTH, summary="Liveness and database reachability", tags=["ops"])
def health() -> Health:
    db.ping()
    return Health(status="ok", db="ok")


@route(app, OPENAPI, summary="This OpenAPI 3 document", tags=["ops"])
def openapi() -> dict[str, Any]:
    return logic.openapi_document()


handler = coldstart.entry(lambda_handler(app))
