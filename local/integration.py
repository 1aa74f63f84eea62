"""A Lambda proxy response turned into the HTTP reply API Gateway would send.

Handlers and the gateway's own answers both pass through here, so a response
API Gateway would reject as malformed (and answer 502) is rejected locally too.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from local.messages import Headers, Reply, as_list

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024  # a larger synchronous Lambda response is an integration failure
_DROPPED_RESPONSE_HEADERS = {"content-length", "connection", "transfer-encoding", "keep-alive"}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class BadIntegrationResponse(ValueError):
    """What API Gateway logs as 'Malformed Lambda proxy response'."""


def integration_reply(response: Any, request_id: str) -> Reply:
    """A Lambda proxy response -> status, headers (single and multi-value merged) and body bytes."""
    if not isinstance(response, dict):
        raise BadIntegrationResponse("not an object")
    status = response.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadIntegrationResponse(f"bad statusCode {status!r}")
    single, multi = response.get("headers") or {}, response.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise BadIntegrationResponse("headers must be objects")
    merged: dict[str, list[Any]] = {k: [v] for k, v in single.items() if k not in multi}
    merged.update({k: as_list(v) for k, v in multi.items()})
    headers: Headers = [("x-amzn-RequestId", request_id)]
    for name, values in merged.items():
        if not _TOKEN.match(str(name)) or str(name).lower() in _DROPPED_RESPONSE_HEADERS:
            continue
        for value in values:
            if isinstance(value, (dict, list)):
                raise BadIntegrationResponse(f"header {name} has a non-scalar value")
            clean = re.sub(r"[\r\n]+", " ", str(value)).encode("latin-1", "replace").decode("latin-1")
            headers.append((str(name), clean))
    body = response.get("body")
    if body is not None and not isinstance(body, str):
        raise BadIntegrationResponse("body must be a string")
    if len(body or "") > LAMBDA_RESPONSE_LIMIT:
        raise BadIntegrationResponse("response over the 6 MB Lambda payload limit")
    if response.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body or "", validate=True)
        except (binascii.Error, ValueError):
            raise BadIntegrationResponse("isBase64Encoded but the body is not base64") from None
    else:
        data = (body or "").encode("utf-8", "surrogatepass")
    return Reply(status, headers, data)
