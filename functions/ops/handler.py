"""Operations endpoints: health check and the OpenAPI document."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from core import db
from core.http import lambda_handler, make_resolver

OPENAPI_FILE = Path(__file__).with_name("openapi.json")

app = make_resolver()


class Health(BaseModel):
    status: Literal["ok"]
    db: Literal["ok"]


@lru_cache(maxsize=1)
def _openapi_document() -> dict[str, Any]:
    return dict(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))


@app.get("/api/v1/health", summary="Liveness and database reachability", tags=["ops"])
def health() -> Health:
    db.ping()
    return Health(status="ok", db="ok")


@app.get("/api/v1/openapi.json", summary="This OpenAPI 3 document", tags=["ops"])
def openapi() -> dict[str, Any]:
    return _openapi_document()


handler = lambda_handler(app)
