"""The Lambda REQUEST authorizer, run the way API Gateway runs it before an auth route.

API Gateway builds the authorizer's event from the proxy event, maps what the
authorizer raises or returns to 401/403/500/503, evaluates the returned IAM
policy against the method ARN, and hands the context on to the integration as
strings. There is no result cache: the deployed authorizer is configured not to
cache either, so every request is authorized afresh.
"""

from __future__ import annotations

import re
import sys
import time
import traceback
from collections.abc import Set
from typing import Any

from local.invoke import Invoker
from local.messages import GatewayError, as_list

AUTHORIZER = "authorizer"
METHOD_ARN_PREFIX = "arn:aws:execute-api:local:000000000000:local/local/"
_EVENT_KEYS = (
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
)


def authorize(event: dict[str, Any], invoke: Invoker, functions: Set[str]) -> dict[str, Any]:
    """The `requestContext.authorizer` for a proxy event, or the GatewayError API Gateway would answer."""
    if AUTHORIZER not in functions:
        raise GatewayError(401, "unauthorized", "Unauthorized")
    method_arn = f"{METHOD_ARN_PREFIX}{event['httpMethod']}{event['path']}"
    auth_event = {"type": "REQUEST", "methodArn": method_arn, **{k: event[k] for k in _EVENT_KEYS}}
    started = time.monotonic()
    try:
        result = invoke(AUTHORIZER, auth_event)
    except Exception as exc:  # noqa: BLE001 - raising "Unauthorized" is how an authorizer says 401
        if str(exc) == "Unauthorized":
            raise GatewayError(401, "unauthorized", "Unauthorized") from None
        # Any other failure is API Gateway's AUTHORIZER_FAILURE, which the API answers as 503.
        traceback.print_exc()
        raise GatewayError(503, "unavailable", "Authorization is unavailable", {"Retry-After": "5"}) from None
    if (
        not isinstance(result, dict)
        or not isinstance(result.get("policyDocument"), dict)
        or not result.get("principalId")
    ):
        print(f"[gateway] authorizer returned no principalId/policyDocument: {result!r:.200}", file=sys.stderr)
        raise GatewayError(500, "internal_error", "Internal server error")
    context = result.get("context") or {}
    if not isinstance(context, dict) or any(isinstance(v, (dict, list)) for v in context.values()):
        print("[gateway] authorizer context values must be strings, numbers or booleans", file=sys.stderr)
        raise GatewayError(500, "internal_error", "Internal server error")
    if not policy_allows(result["policyDocument"], method_arn):
        raise GatewayError(403, "forbidden", "User is not authorized to access this resource")
    latency_ms = int((time.monotonic() - started) * 1000)
    return {
        **{k: _context_value(v) for k, v in context.items()},
        "principalId": str(result["principalId"]),
        "integrationLatency": latency_ms,
    }


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation for execute-api:Invoke: an explicit Deny wins, else any Allow, else deny."""
    allowed = False
    for statement in as_list(policy.get("Statement") or []):
        if not isinstance(statement, dict):
            continue
        actions = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
        resources = [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]
        if not any(_wildcard(a, "execute-api:Invoke", ignore_case=True) for a in actions):
            continue
        if not any(_wildcard(r, method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _context_value(value: Any) -> str:
    """REST APIs hand authorizer context values to the integration as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
