"""Sample events: ours cover every route, and AWS's own samples pass through our handlers."""

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from core.routes import ROUTES
from tests.conftest import ROOT, SHARED

OUR_EVENTS = sorted((ROOT / "events").glob("*/*.json"))


def _load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def test_every_route_has_a_sample_event() -> None:
    covered = set()
    for path in OUR_EVENTS:
        event = _load(path)
        if "httpMethod" in event:
            covered.add((path.parent.name, event["httpMethod"], event["resource"]))
    missing = [r for r in ROUTES if (r.function, r.method, r.path) not in covered]
    assert missing == []


@pytest.mark.parametrize("path", OUR_EVENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_our_samples_run_through_their_handler(path: Path, db: str) -> None:
    handler = importlib.import_module(f"{path.parent.name}.handler").handler
    event = _load(path)
    if event.get("type") == "REQUEST":  # an authorizer sample holds a placeholder token
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            handler(event, None)
        return
    response = handler(event, None)
    if "statusCode" in response:
        assert response["statusCode"] < 500, response


def test_the_real_api_gateway_sample_reaches_our_handler(db: str) -> None:
    """AWS's own REST proxy event, rewritten to our path, with everything else as AWS sends it."""
    from ops.handler import handler

    event = copy.deepcopy(_load(SHARED / "aws-events" / "apiGatewayProxyEvent.json"))
    event.update(resource="/api/v1/health", path="/api/v1/health", httpMethod="GET")
    event["requestContext"].update(resourcePath="/api/v1/health", httpMethod="GET")
    response = handler(event, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok", "db": "ok"}
    assert response["multiValueHeaders"]["X-Request-Id"] == [event["requestContext"]["requestId"]]


def _signed_in_token() -> str:
    from tests.client import call

    answer = call(
        "POST", "/api/v1/auth/register", {"email": "aws@example.com", "username": "aws", "password": "p" * 12}
    )
    assert answer.status == 201
    return str(answer.body["access_token"])


@pytest.mark.parametrize("sample", ["apiGatewayAuthorizerRequestEvent.json", "apiGatewayAuthorizerTokenEvent.json"])
def test_the_real_authorizer_samples_reach_our_authorizer(sample: str, db: str) -> None:
    from authorizer.handler import handler

    token = _signed_in_token()
    event = copy.deepcopy(_load(SHARED / "aws-events" / sample))
    if event["type"] == "REQUEST":
        event["headers"]["Authorization"] = f"Bearer {token}"
        event["multiValueHeaders"]["Authorization"] = [f"Bearer {token}"]
    else:
        event["authorizationToken"] = f"Bearer {token}"
    result = handler(event, None)
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert result["context"]["user_id"] == result["principalId"]
    resource = result["policyDocument"]["Statement"][0]["Resource"]
    assert resource.startswith(event["methodArn"].split("/")[0]) and resource.endswith("/*/*")
