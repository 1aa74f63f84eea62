"""The first event each cold-start subject is invoked with (bench.coldstart)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.database import Fixture

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events"
REFERENCE = "reference"
HEADERS = {"Accept": "application/json", "User-Agent": "coldstart-bench", "Origin": "http://localhost:3000"}


def _fill_path(path: str) -> tuple[str, dict[str, str]]:
    params = {name: str(uuid.uuid4()) for name in re.findall(r"\{(\w+)\}", path)}
    filled = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)
    return filled, params


def _first_get(routes: Sequence[Any]) -> Any:
    gets = [r for r in routes if r.method == "GET"]
    if gets:
        return gets[0]
    if routes:
        return routes[0]
    raise LookupError("no route in core.routes.ROUTES")


def api_route(function_name: str) -> Any:
    from core.routes import routes_of

    try:
        return _first_get(routes_of(function_name))
    except LookupError:
        raise LookupError(f"no route in core.routes.ROUTES for function {function_name!r}") from None


def api_event(function_name: str, fixture: Fixture) -> dict[str, Any]:
    """The function's first GET row, path parameters filled with random UUIDs.

    Protected routes carry the authorizer context of the fixture user (random ids if there is none).
    """
    from local.events import proxy_event

    route = api_route(function_name)
    path, params = _fill_path(route.path)
    authorizer = None
    if route.auth:
        user_id = fixture.user_id or str(uuid.uuid4())
        authorizer = {"principalId": user_id, "user_id": user_id, "session_id": fixture.session_id or str(uuid.uuid4())}
    return proxy_event(route.method, path, route=route, path_params=params, headers=HEADERS, authorizer=authorizer)


def authorizer_event(token: str) -> dict[str, Any]:
    """A REST API REQUEST authorizer event for the first protected GET route, `Authorization: Bearer <token>`."""
    from core.routes import ROUTES
    from local.events import proxy_event

    route = _first_get([r for r in ROUTES if r.auth] or list(ROUTES))
    path, params = _fill_path(route.path)
    event = proxy_event(
        route.method, path, route=route, path_params=params, headers={**HEADERS, "Authorization": f"Bearer {token}"}
    )
    for key in ("body", "isBase64Encoded"):
        event.pop(key, None)
    method_arn = f"arn:aws:execute-api:us-east-1:000000000000:local/local/{route.method}{path}"
    return {"type": "REQUEST", "methodArn": method_arn, **event}


def sample_event(function_name: str) -> tuple[dict[str, Any], str]:
    """events/<name>/'s first sample, else one synthetic SQS record."""
    samples = sorted((EVENTS_DIR / function_name).glob("*.json"))
    if samples:
        data = json.loads(samples[0].read_text(encoding="utf-8"))
        return dict(data), str(samples[0].relative_to(ROOT))
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "bench",
        "body": "{}",
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:000000000000:{function_name}",
        "awsRegion": "us-east-1",
    }
    return {"Records": [record]}, "synthetic SQS record (no events/<name>/*.json)"


def reference_event() -> dict[str, Any]:
    from core.routes import Route
    from local.events import proxy_event

    route = Route("GET", "/items/{item_id}", REFERENCE, auth=False)
    return proxy_event("GET", "/items/1", route=route, path_params={"item_id": "1"}, headers=HEADERS)
