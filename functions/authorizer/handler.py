"""API Gateway REQUEST authorizer: a valid, unrevoked access token or 401.

Kept lean for cold start: no resolver, no ORM; one indexed lookup decides
revocation, so logout takes effect on the very next request (cache TTL 0).
"""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
import logging
from typing import Any

from core import db
from core.auth import verify_access_token
from core.errors import Unauthorized

# Stdlib logging, not Powertools Logger (~25 ms of cold import): with the function's JSON log
# format, Lambda's runtime already writes each record as JSON with the request id and `extra` keys.
logger = logging.getLogger("authorizer")

_ACTIVE_SESSION = (
    "SELECT 1 FROM auth_sessions WHERE id = CAST(:sid AS uuid) AND user_id = CAST(:uid AS uuid) AND revoked_at IS NULL"
)


def _bearer_token(event: dict[str, Any]) -> str | None:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    value = headers.get("authorization") or event.get("authorizationToken") or ""
    scheme, _, token = str(value).partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _session_is_active(session_id: str, user_id: str) -> bool:
    return bool(db.lean_query(_ACTIVE_SESSION, sid=session_id, uid=user_id))


def _api_wide(method_arn: str) -> str:
    """arn:...:api-id/stage/METHOD/path -> arn:...:api-id/stage/*/* (one answer for the whole API)."""
    prefix, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0] if rest else "*"
    return f"{prefix}/{stage}/*/*"


@coldstart.entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = _bearer_token(event)
    if token is None:
        raise Exception("Unauthorized")  # API Gateway's word for 401
    try:
        claims = verify_access_token(token)
    except Unauthorized as exc:
        logger.info("token refused", extra={"reason": exc.message})
        raise Exception("Unauthorized") from exc
    if not _session_is_active(str(claims.session_id), str(claims.user_id)):
        logger.info("token revoked", extra={"session_id": str(claims.session_id)})
        raise Exception("Unauthorized")
    return {
        "principalId": str(claims.user_id),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _api_wide(event.get("methodArn", ""))}
            ],
        },
        "context": {"user_id": str(claims.user_id), "session_id": str(claims.session_id)},
    }
