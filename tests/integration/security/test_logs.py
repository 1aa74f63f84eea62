"""Tokens stay out of logs (issue 14.5): share and invitation tokens travel in paths, and access
logs are kept 30 days, so no log line may hold a path as the client sent it."""

from __future__ import annotations

import json
import secrets

import pytest

TOKEN_PATHS = [
    "/api/v1/shares/{token}",
    "/api/v1/invitations/{token}/accept",
    "/api/v1/invitations/{token}/decline",
]


def test_the_cloud_access_log_records_the_resource_not_the_path() -> None:
    from infra_cdk.constructs.rest_api import ACCESS_LOG_FORMAT

    fields = json.loads(ACCESS_LOG_FORMAT)
    assert fields["resourcePath"] == "$context.resourcePath"
    variables = set(fields.values())
    assert "$context.path" not in variables
    assert not any("requestOverride" in v or "querystring" in v.lower() for v in variables)


@pytest.mark.parametrize("template", TOKEN_PATHS)
def test_the_local_access_log_records_the_resource_not_the_path(template: str) -> None:
    from local.gateway import Gateway

    token = secrets.token_urlsafe(24)
    logged = Gateway().logged_path(template.format(token=token) + f"?cursor={token}")
    assert token not in logged
    assert logged.startswith("/api/v1/") and "{" in logged
    assert Gateway().logged_path(f"/api/v1/nope/{token}") == "(no route)"


def test_handlers_do_not_log_the_tokens_they_are_given(
    db: str, s3_endpoint: str, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Misses, and a handler that fails outright, log nothing of the token in the path."""
    from tests.client import call
    from tests.integration.social import member

    ada = member("ada")
    token = secrets.token_urlsafe(24)
    caplog.set_level("DEBUG")
    assert call("GET", f"/api/v1/shares/{token}").status == 404
    assert call("POST", f"/api/v1/invitations/{token}/accept", token=ada.token).status == 404
    assert call("POST", f"/api/v1/invitations/{token}/decline", token=ada.token).status == 404
    out, err = capfd.readouterr()
    assert token not in out + err + caplog.text
