"""The HTTP edge shared by every API function.

One exception map and one error envelope (API.md), security and CORS headers
on every response, and the Lambda entry point that wraps a resolver.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from core.config import CoreSettings
from core.errors import (
    AppError,
    BadRequest,
    NotFound,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from core.internals import powertools_validation
from core.routes import ROUTES, Route
from core.schemas import JsonBody

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "api"))
# Powertools' event handler logs each route's arguments at DEBUG, tokens in paths included, and
# Lambda passes a function's DEBUG level to every library logger: its internals stay at INFO.
logging.getLogger("aws_lambda_powertools.event_handler").setLevel(logging.INFO)

JSON = "application/json; charset=utf-8"
_NON_BODY_LOCATIONS = {"query", "path", "header", "cookie"}
QUERY_CANCELED = "57014"  # SQLSTATE of a statement cancelled by statement_timeout (or by an operator)


def envelope(status: int, code: str, message: str, details: list[Any], request_id: str) -> str:
    error = {"code": code, "message": message, "details": details, "request_id": request_id}
    return json.dumps({"error": error}, separators=(",", ":"), default=str)


def _request_id(app: APIGatewayRestResolver) -> str:
    try:
        return str(app.current_event.request_context.request_id or "")
    except Exception:  # noqa: BLE001 - an event without requestContext still gets an answer
        return ""


def error_response(app: APIGatewayRestResolver, err: AppError) -> Response:
    body = envelope(err.status, err.code, err.message, err.details, _request_id(app))
    return Response(status_code=err.status, content_type=JSON, body=body, headers=err.headers)


def _field_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    details = []
    for e in errors:
        loc = [str(part) for part in e.get("loc", ())]
        where = loc[0] if loc else "body"
        field = ".".join(loc[1:]) if len(loc) > 1 else where
        details.append({"field": field, "in": where, "message": e.get("msg", ""), "type": e.get("type", "")})
    return details


def _validation_error(err: RequestValidationError) -> AppError:
    errors = list(err.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return BadRequest("Request body is not valid JSON")
    details = _field_details(errors)
    if details and all(d["in"] == "path" for d in details):
        return NotFound("No such resource")  # a malformed id names nothing
    if any(d["in"] in _NON_BODY_LOCATIONS for d in details):
        return BadRequest("Invalid request parameters", details=details)
    return ValidationFailed(details=details)


def _is_json(content_type: str | None) -> bool:
    return bool(content_type) and content_type.split(";")[0].strip().lower() in (  # type: ignore[union-attr]
        "application/json",
        "application/problem+json",
    )


NUL_MESSAGE = "text may not contain NUL (U+0000) characters"
# Deepest nesting of arrays and objects a body may have; none of ours needs more than a few levels.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"]*"')  # once escapes are gone, a string runs from a quote to the next one
_ALL_BUT_QUOTES_AND_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_SQUARE = bytes.maketrans(b"{}", b"[]")


def json_too_deep(body: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the arrays and objects of `body` nest deeper than `limit` (brackets in strings do not count).

    Checked before any parser: JSON parsers recurse per level, so a deep body ends in a RecursionError
    (a 500), after paying for every level. Only C-speed bytes operations, linear in the body, so
    10 MiB costs milliseconds: escapes go first (a backslash always escapes the next character:
    pairs of backslashes, then escaped quotes), so every quote left opens or closes a string; then
    everything but quotes and brackets, the strings, and each pass of `replace(b"[]", b"")` peels
    the innermost level: valid JSON takes exactly its depth in passes. Brackets left unclosed count as
    levels, so a malformed body may only be refused sooner (the parser would refuse it anyway).
    """
    data = body.encode() if isinstance(body, str) else body
    if data.count(b"[") + data.count(b"{") <= limit:  # the usual body: nothing to measure
        return False
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = data.translate(_SQUARE, _ALL_BUT_QUOTES_AND_BRACKETS)
    # Two adjacent quotes are an empty string or the gap between two strings: dropping them keeps
    # every other quote's parity, so what is inside a string stays inside one.
    data = data.replace(b'""', b"")
    if b'"' in data:
        data = _JSON_STRING.sub(b"", data).replace(b'"', b"")  # a quote left over opens no string
    if b"[" * (limit + 1) in data:  # [[[[...: nothing to peel
        return True
    depth = 0
    while data and depth <= limit:
        peeled = data.replace(b"[]", b"")
        if peeled == data:
            break
        data, depth = peeled, depth + 1
    return depth + len(data) - len(data.rstrip(b"[")) > limit


def _unreadable_body(event: dict[str, Any]) -> AppError | None:
    """Refuse input we will not parse or store before any parser sees it (forms, multipart, bad bytes, NUL,
    deep nesting).

    API Gateway and the local gateway route first, so a function only sees its own routes.
    """
    for name, value in (event.get("queryStringParameters") or {}).items():
        if "\x00" in (value or "") or "\x00" in name:
            return BadRequest(details=[{"field": name, "in": "query", "message": NUL_MESSAGE, "type": "nul"}])
    body = event.get("body")
    if not body or event.get("httpMethod") not in ("POST", "PUT", "PATCH"):
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if not _is_json(headers.get("content-type")):
        return UnsupportedMediaType("Send the body as application/json")
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
        text = raw.decode("utf-8")
    except (ValueError, UnicodeError):
        return BadRequest("Request body is not valid UTF-8 JSON")
    if "\\u0000" in text or "\x00" in text:  # PostgreSQL text cannot hold NUL
        return ValidationFailed(details=[{"field": "body", "in": "body", "message": NUL_MESSAGE, "type": "nul"}])
    if json_too_deep(raw):
        return BadRequest(f"Request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")
    return None


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(AppError)
    def _app_error(err: AppError) -> Response:
        if err.status >= 500:
            logger.warning("request failed", extra={"status": err.status, "code": err.code})
        return error_response(app, err)

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(_: RequestUnsupportedContentType) -> Response:
        return error_response(app, UnsupportedMediaType("Send the body as application/json"))

    @app.exception_handler(RequestValidationError)
    def _invalid(err: RequestValidationError) -> Response:
        return error_response(app, _validation_error(err))

    @app.exception_handler(ServiceError)
    def _service_error(err: ServiceError) -> Response:
        code = HTTPStatus(err.status_code).phrase.lower().replace(" ", "_")
        return error_response(app, _status_error(err.status_code, code, str(err.msg)))

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(app, NotFound("No such route"))

    @app.exception_handler(Exception)
    def _bug(err: Exception) -> Response:
        from core.db import sqlstate

        code = sqlstate(err) or ""
        if code.startswith("22"):  # data exception: a value PostgreSQL cannot store
            logger.warning("value refused by the database", extra={"sqlstate": code})
            return error_response(app, ValidationFailed("A value cannot be stored as given"))
        if code == QUERY_CANCELED:  # statement_timeout: the database is too slow right now; rolled back
            logger.warning("statement cancelled by the database", extra={"sqlstate": code})
            return error_response(app, Unavailable(CoreSettings.current().retry_after_s))
        logger.exception("unhandled error")
        return error_response(app, AppError())


def _status_error(status: int, code: str, message: str) -> AppError:
    err = AppError(message, code=code)
    err.status = status
    return err


_ESCAPED_BY_JSON_DUMPS = re.compile(r"[^\x00-\x7e]")  # json.dumps (ensure_ascii) writes these as \uXXXX


def _json_dumps_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # a surrogate pair, as json.dumps writes it
        code -= 0x10000
        return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_once(body: JsonBody) -> str:
    """`body` as JSON, written once by pydantic-core: the text json.dumps(model_dump(mode="json"))
    makes with Powertools' separators (compact, ASCII only), at a fraction of the cost."""
    text = body.model_dump_json(by_alias=True)
    if text.isascii() and "\x7f" not in text:
        return text
    return _ESCAPED_BY_JSON_DUMPS.sub(_json_dumps_escape, text)


def _written_once(body: Any, declared: Any) -> str | None:
    """A JsonBody of exactly the declared type is already valid (pydantic built it): written in one
    pass. Anything else (None) goes the Powertools way."""
    if isinstance(body, JsonBody) and declared is type(body):
        return json_once(body)
    return None


def make_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    powertools_validation.write_responses_with(app, _written_once)
    register_error_handlers(app)
    return app


# A function's resolver, or one of its Routers (included into the resolver: rooms, assets).
App = APIGatewayRestResolver | Router
_Handler = TypeVar("_Handler", bound=Callable[..., Any])
_ROWS = frozenset(id(row) for row in ROUTES)
_registered: dict[Callable[..., Any], Route] = {}


class RouteMismatch(Exception):
    """A handler registered a row that is not in core.routes.ROUTES or that another function serves."""


def route(app: App, row: Route, **options: Any) -> Callable[[_Handler], _Handler]:
    """Register the decorated function for one row of the route table: its method and path come
    from the row, written once (core.routes); everything else (status_code, summary, tags, ...) is
    Powertools' `route` options.

    Fails at import when the row is not one of core.routes.ROUTES (a copy of a path is not a row)
    or belongs to another function than the handler's package (`rooms.routers.members` is rooms').
    """

    def register(handler: _Handler) -> _Handler:
        owner = handler.__module__.split(".", 1)[0]
        if id(row) not in _ROWS:
            raise RouteMismatch(f"{owner}.{handler.__name__}: {row.method} {row.path} is not a row of the route table")
        if row.function != owner:
            raise RouteMismatch(
                f"{owner}.{handler.__name__}: {row.method} {row.path} is served by {row.function!r}, not {owner!r}"
            )
        _registered[handler] = row
        return app.route(row.resolver_path, row.method, **options)(handler)

    return register


def registered_row(handler: Callable[..., Any]) -> Route | None:
    """The row `route` registered `handler` for (None: registered some other way)."""
    return _registered.get(handler)


def _cors_headers(origin: str | None) -> dict[str, str]:
    allowed = CoreSettings.current().cors_allowed_origins
    if not origin or not ("*" in allowed or origin in allowed):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "X-Request-Id, Retry-After",
        "Vary": "Origin",
    }


def finalize(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Headers every answer carries, whatever produced it."""
    headers: dict[str, list[str]] = response.setdefault("multiValueHeaders", {})
    request_id = ((event.get("requestContext") or {}).get("requestId")) or ""
    incoming = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    extra = {
        "X-Request-Id": request_id,
        "X-Content-Type-Options": "nosniff",
        "Strict-Transport-Security": f"max-age={CoreSettings.current().hsts_max_age_s}; includeSubDomains",
        "Cache-Control": "no-store",
        **_cors_headers(incoming.get("origin")),
    }
    if response.get("statusCode") == 204:  # no content: no body, so no content type either
        response["body"] = ""
        headers.pop("Content-Type", None)
    elif headers.get("Content-Type") == ["application/json"]:
        headers["Content-Type"] = [JSON]
    present = {k.lower() for k in headers}
    for name, value in extra.items():
        if name.lower() not in present:
            headers[name] = [value]
    return response


def _plain_error(err: AppError, request_id: str) -> dict[str, Any]:
    """An error answer built without the resolver (before it runs, or when it fails)."""
    return {
        "statusCode": err.status,
        "body": envelope(err.status, err.code, err.message, err.details, request_id),
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": [JSON], **{k: [v] for k, v in err.headers.items()}},
    }


def lambda_handler(app: APIGatewayRestResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point of an API function: resolve, then add the common headers."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_id = (event.get("requestContext") or {}).get("requestId")
        logger.set_correlation_id(request_id)
        refused = _unreadable_body(event)
        if refused is not None:
            return finalize(event, _plain_error(refused, request_id or ""))
        try:
            response = app.resolve(event, context)
        except Exception:
            logger.exception("resolver failed")
            response = _plain_error(AppError(), request_id or "")
        return finalize(event, response)

    return handler


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the authorizer established it."""

    user_id: uuid.UUID
    session_id: uuid.UUID


def caller(app: App) -> Caller:
    """The authorizer context; its absence on an auth route is a 401, never a crash."""
    context = _event(app).request_context.authorizer.raw_event or {}
    try:
        return Caller(user_id=uuid.UUID(context["user_id"]), session_id=uuid.UUID(context["session_id"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthorized() from exc


def client_ip(app: App) -> str:
    return str(_event(app).request_context.identity.source_ip or "unknown")


def _event(app: App) -> APIGatewayProxyEvent:
    """The request being answered (a Router hands its resolver's on, typed as any proxy event)."""
    return cast("APIGatewayProxyEvent", app.current_event)


ERROR_STATUSES_KEY = "x-error-statuses"


def documented(*statuses: int) -> dict[str, Any]:
    """`openapi_extensions` naming the error statuses a route answers beyond the common ones.

    `make openapi` turns them into responses whose body is the error envelope.
    """
    return {ERROR_STATUSES_KEY: sorted(statuses)}
