"""API Gateway REST (v1) proxy events, built the way API Gateway builds them.

Used by the local gateway for real HTTP requests and by tests and `make invoke`.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core.routes import Route

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")


def _multi(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value  # API Gateway keeps the last value in the single-value map
        multi.setdefault(key, []).append(value)
    return single, multi


def proxy_event(
    method: str,
    path: str,
    *,
    route: Route | None = None,
    path_params: Mapping[str, str] | None = None,
    headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
    query: Sequence[tuple[str, str]] | Mapping[str, str] = (),
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
    authorizer: Mapping[str, Any] | None = None,
    stage: str = "local",
    request_id: str | None = None,
) -> dict[str, Any]:
    header_pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    query_pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
    single_headers, multi_headers = _multi(header_pairs)
    single_query, multi_query = _multi(query_pairs)
    content_type = next((v for k, v in header_pairs if k.lower() == "content-type"), "")

    encoded = False
    text_body: str | None = None
    if isinstance(body, bytes):
        is_text = content_type.startswith(_TEXT_TYPES)
        try:
            text_body = body.decode("utf-8") if is_text else None
        except UnicodeDecodeError:
            text_body = None
        if text_body is None:
            text_body, encoded = base64.b64encode(body).decode("ascii"), True
    elif body is not None:
        text_body = body

    request_id = request_id or str(uuid.uuid4())
    now = datetime.now(UTC)
    resource = route.path if route else path
    user_agent = next((v for k, v in header_pairs if k.lower() == "user-agent"), None)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_params) if path_params else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": "000000000000",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            "domainName": "localhost",
            "apiId": "local",
            "authorizer": dict(authorizer) if authorizer else None,
        },
        "body": text_body,
        "isBase64Encoded": encoded,
    }
