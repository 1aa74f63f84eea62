"""Calls handlers the way API Gateway does: the authorizer first on auth routes, then the function."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from core.routes import ROUTES, Route
from local.events import proxy_event


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, list[str]]

    @property
    def error_code(self) -> str:
        return str(self.body["error"]["code"])


def _match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route.path)) + "$"
        found = re.match(pattern, path)
        if found and route.method == method:
            return route, found.groupdict()
    return None


def call(
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    ip: str = "203.0.113.7",
    raw_body: str | None = None,
    query: list[tuple[str, str]] | None = None,
) -> Answer:
    path, _, query_string = path.partition("?")
    query = parse_qsl(query_string, keep_blank_values=True) + list(query or [])
    matched = _match(method, path)
    assert matched, f"{method} {path} is not in the route table"
    route, params = matched
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    event = proxy_event(
        method, path, route=route, path_params=params, headers=all_headers, body=payload, source_ip=ip, query=query
    )
    if route.auth:
        authorizer = importlib.import_module("authorizer.handler").handler
        request = {
            **event,
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:local:0:api/local/{method}{route.path}",
        }
        try:
            result = authorizer(request, None)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return Answer(401, {"error": {"code": "unauthorized"}}, {})
            # API Gateway's AUTHORIZER_FAILURE gateway response, as the API configures it
            return Answer(503, {"error": {"code": "unavailable"}}, {"Retry-After": ["5"]})
        event["requestContext"]["authorizer"] = {"principalId": result["principalId"], **result["context"]}
    response = importlib.import_module(f"{route.function}.handler").handler(event, None)
    text = response.get("body")
    return Answer(response["statusCode"], json.loads(text) if text else None, dict(response["multiValueHeaders"]))
