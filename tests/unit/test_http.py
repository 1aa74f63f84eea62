"""The error envelope and headers, on a small resolver built the way functions build theirs."""

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from core import errors
from core.http import json_too_deep, lambda_handler, make_resolver
from core.schemas import JsonBody
from core.types import Timestamp
from local.events import proxy_event

app = make_resolver()


class Thing(BaseModel):
    name: str = Field(min_length=1, max_length=5)
    size: int = Field(ge=0)


@app.post("/api/v1/things")
def create(thing: Thing) -> Thing:
    return thing


@app.get("/api/v1/things")
def listing(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, int]:
    return {"limit": limit}


@app.get("/api/v1/boom/<kind>")
def boom(kind: str) -> dict[str, str]:
    if kind == "bug":
        raise RuntimeError("SELECT secret FROM users -- traceback material")
    if kind == "cancelled":  # as SQLAlchemy wraps pg8000's error for SQLSTATE 57014
        error = RuntimeError("canceling statement due to statement timeout")
        error.orig = Exception({"C": "57014", "M": "canceling statement due to statement timeout"})  # type: ignore[attr-defined]
        raise error
    raise {
        "400": errors.BadRequest,
        "401": errors.Unauthorized,
        "403": errors.Forbidden,
        "404": errors.NotFound,
        "409": errors.Conflict,
        "413": errors.PayloadTooLarge,
        "422": errors.ValidationFailed,
    }[kind]()


@app.get("/api/v1/slow/<kind>")
def slow(kind: str) -> dict[str, str]:
    raise errors.RateLimited(7) if kind == "429" else errors.Unavailable(3)


@app.delete("/api/v1/things/<name>", status_code=204)
def remove(name: str) -> None:
    return None


handler = lambda_handler(app)


def call(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, list[str]]]:
    response = handler(proxy_event(method, path, **kwargs), None)
    return response["statusCode"], json.loads(response["body"]), response["multiValueHeaders"]


def assert_envelope(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"]


JSON_HEADERS = {"Content-Type": "application/json"}


def test_valid_body_passes() -> None:
    status, body, headers = call("POST", "/api/v1/things", body='{"name":"a","size":1}', headers=JSON_HEADERS)
    assert (status, body) == (200, {"name": "a", "size": 1})
    assert headers["Content-Type"] == ["application/json; charset=utf-8"]


def test_body_that_is_not_json_is_400() -> None:
    status, body, _ = call("POST", "/api/v1/things", body='{"name":', headers=JSON_HEADERS)
    assert status == 400
    assert_envelope(body, "bad_request")


def test_wrong_content_type_is_415() -> None:
    status, body, _ = call(
        "POST", "/api/v1/things", body='{"name":"a","size":1}', headers={"Content-Type": "text/plain"}
    )
    assert status == 415
    assert_envelope(body, "unsupported_media_type")


def test_every_bad_field_is_listed() -> None:
    status, body, _ = call("POST", "/api/v1/things", body='{"name":"toolong","size":-1,"x":1}', headers=JSON_HEADERS)
    assert status == 422
    assert_envelope(body, "validation_error")
    assert {d["field"] for d in body["error"]["details"]} == {"name", "size"}


def test_missing_fields_and_wrong_types_are_422() -> None:
    status, body, _ = call("POST", "/api/v1/things", body='{"size":"big"}', headers=JSON_HEADERS)
    assert status == 422
    assert {d["field"] for d in body["error"]["details"]} == {"name", "size"}


@pytest.mark.parametrize("value", ["0", "101", "ten"])
def test_bad_query_parameter_is_400(value: str) -> None:
    status, body, _ = call("GET", "/api/v1/things", query={"limit": value})
    assert status == 400
    assert_envelope(body, "bad_request")
    assert body["error"]["details"][0]["field"] == "limit"


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("400", "bad_request"),
        ("401", "unauthorized"),
        ("403", "forbidden"),
        ("404", "not_found"),
        ("409", "conflict"),
        ("413", "payload_too_large"),
        ("422", "validation_error"),
    ],
)
def test_exception_map(kind: str, code: str) -> None:
    status, body, _ = call("GET", f"/api/v1/boom/{kind}")
    assert status == int(kind)
    assert_envelope(body, code)


@pytest.mark.parametrize(("kind", "code", "retry"), [("429", "rate_limited", "7"), ("503", "unavailable", "3")])
def test_retry_after(kind: str, code: str, retry: str) -> None:
    status, body, headers = call("GET", f"/api/v1/slow/{kind}")
    assert status == int(kind)
    assert_envelope(body, code)
    assert headers["Retry-After"] == [retry]


def test_a_bug_is_500_without_internals() -> None:
    status, body, _ = call("GET", "/api/v1/boom/bug")
    assert status == 500
    assert_envelope(body, "internal_error")
    assert "SELECT" not in json.dumps(body) and "Traceback" not in json.dumps(body)


def test_a_statement_cancelled_by_its_timeout_is_503_with_retry_after() -> None:
    status, body, headers = call("GET", "/api/v1/boom/cancelled")
    assert status == 503
    assert_envelope(body, "unavailable")
    assert int(headers["Retry-After"][0]) >= 1 and "statement" not in json.dumps(body)


def test_unknown_route_and_method_are_404() -> None:
    for method, path in [("GET", "/api/v1/nope"), ("DELETE", "/api/v1/things"), ("GET", "/")]:
        status, body, _ = call(method, path)
        assert status == 404
        assert_envelope(body, "not_found")


def test_security_headers_on_every_answer() -> None:
    for path in ("/api/v1/things", "/api/v1/nope", "/api/v1/boom/bug"):
        _, _body, headers = call("GET", path, request_id="req-123")
        assert headers["X-Request-Id"] == ["req-123"]
        assert headers["X-Content-Type-Options"] == ["nosniff"]
        assert headers["Strict-Transport-Security"][0].startswith("max-age=")
        assert headers["Cache-Control"] == ["no-store"]


def test_cors_only_for_allowed_origins() -> None:
    _, _, allowed = call("GET", "/api/v1/things", headers={"Origin": "http://localhost:3000"})
    assert allowed["Access-Control-Allow-Origin"] == ["http://localhost:3000"]
    _, _, denied = call("GET", "/api/v1/things", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in denied


def test_event_without_request_context_still_gets_an_envelope() -> None:
    response = handler({"httpMethod": "GET", "path": "/api/v1/nope"}, None)
    assert response["statusCode"] in (404, 500)
    assert "error" in json.loads(response["body"])


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("multipart/form-data", 415), ("application/x-www-form-urlencoded", 415), (None, 415), ("text/plain", 415)],
)
def test_bodies_we_do_not_parse_are_refused_before_parsing(content_type: str | None, status: int) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer, body, _ = call("POST", "/api/v1/things", body='{"name":"a","size":1}', headers=headers)
    assert answer == status
    assert_envelope(body, "unsupported_media_type")


def test_body_that_is_not_utf8_is_400() -> None:
    status, body, _ = call("POST", "/api/v1/things", body=b"\xff\xfe{", headers={"Content-Type": "application/json"})
    assert status == 400
    assert_envelope(body, "bad_request")


def test_base64_json_body_is_read() -> None:
    raw = b'{"name":"b","size":2}'
    status, _body, _ = call("POST", "/api/v1/things", body=raw, headers={"Content-Type": "application/octet-stream"})
    assert status == 415
    event = proxy_event("POST", "/api/v1/things", body=raw, headers={"Content-Type": "application/json"})
    event["body"], event["isBase64Encoded"] = __import__("base64").b64encode(raw).decode(), True
    assert handler(event, None)["statusCode"] == 200


def test_no_content_has_no_body_and_no_content_type() -> None:
    response = handler(proxy_event("DELETE", "/api/v1/things/x"), None)
    assert response["statusCode"] == 204 and response["body"] == ""
    assert "Content-Type" not in response["multiValueHeaders"]


def test_nul_characters_are_refused_at_the_edge() -> None:
    status, body, _ = call("POST", "/api/v1/things", body='{"name":"a\\u0000","size":1}', headers=JSON_HEADERS)
    assert status == 422 and body["error"]["details"][0]["type"] == "nul"
    status, body, _ = call("GET", "/api/v1/things", query={"limit": "5\x00"})
    assert status == 400 and body["error"]["details"][0]["field"] == "limit"


def _nested(depth: int) -> str:
    text = '"leaf [ { \\\\"'
    for level in range(depth):
        text = f'[{text}, "]"]' if level % 2 else f'{{"k{{": {text}, "\\"[": 1}}'
    return text


@pytest.mark.parametrize("depth", [0, 1, 2, 31, 32, 33, 34, 200])
def test_json_depth_is_measured_exactly(depth: int) -> None:
    text = _nested(depth)
    assert json.loads(text) is not None or depth == 0
    assert json_too_deep(text) is (depth > 32)
    assert json_too_deep(text.encode(), limit=depth) is False
    assert json_too_deep(text, limit=max(depth - 1, 0)) is (depth > 0)


@pytest.mark.parametrize(
    "text",
    [
        '["\\\\"' + ", [" * 40 + "]" * 40 + "]",  # an escaped backslash ends the string: the brackets count
        "[" * 40,  # never closed
        "]" * 5 + "[" * 40,
        '["' + "[" * 40,  # an unterminated string
    ],
)
def test_malformed_or_tricky_bodies_are_measured_on_the_safe_side(text: str) -> None:
    assert json_too_deep(text) is True


def test_brackets_in_strings_do_not_count() -> None:
    assert json_too_deep(json.dumps({"a": "[" * 100, "b": ['\\"{{{{' * 50], '"[[[': "]]]" * 50})) is False


def test_deep_bodies_are_400_before_any_parser() -> None:
    status, body, _ = call("POST", "/api/v1/things", body="[" * 100_000 + "]" * 100_000, headers=JSON_HEADERS)
    assert status == 400
    assert_envelope(body, "bad_request")
    status, _, _ = call(
        "POST", "/api/v1/things", body='{"name":"a","size":1,"x":' + _nested(31) + "}", headers=JSON_HEADERS
    )
    assert status == 200  # 32 levels with the outer object: parsed as usual (extra fields are ignored here)


# --- JSON bodies written in one pass (core.http.json_once) --------------------------------------

TRICKY = ['say "hi" \\ back', "line\nfeed\ttab\x01\x1f", "del\x7f", "café", "日本語", "emoji 😀🎉", "</script>"]


class Inner(BaseModel):
    id: uuid.UUID
    at: Timestamp
    note: str | None


class FastThing(JsonBody):
    name: str
    count: int
    flag: bool
    inner: list[Inner]


class SlowThing(BaseModel):  # the same fields, serialized the Powertools way
    name: str
    count: int
    flag: bool
    inner: list[Inner]


def _thing_fields(name: str) -> dict[str, Any]:
    at = datetime(2026, 11, 23, 12, 0, 0, 500, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    inner = [{"id": uuid.UUID(int=7), "at": at, "note": name}, {"id": uuid.UUID(int=8), "at": at, "note": None}]
    return {"name": name, "count": -3, "flag": True, "inner": inner}


@app.get("/api/v1/fast/<index>")
def fast(index: int) -> FastThing:
    return FastThing.model_validate(_thing_fields(TRICKY[index]))


@app.get("/api/v1/slow-json/<index>")
def slow_json(index: int) -> SlowThing:
    return SlowThing.model_validate(_thing_fields(TRICKY[index]))


@app.get("/api/v1/fast-from-dict/<index>")
def fast_from_dict(index: int) -> FastThing:
    return _thing_fields(TRICKY[index])  # type: ignore[return-value]  # Powertools validates it into the model


@pytest.mark.parametrize("index", range(len(TRICKY)))
def test_json_bodies_written_once_are_the_bytes_powertools_writes(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import http

    once: list[str] = []
    original = http.json_once
    monkeypatch.setattr(http, "json_once", lambda body: once.append(type(body).__name__) or original(body))
    fast_answer = handler(proxy_event("GET", f"/api/v1/fast/{index}"), None)
    slow_answer = handler(proxy_event("GET", f"/api/v1/slow-json/{index}"), None)
    from_dict = handler(proxy_event("GET", f"/api/v1/fast-from-dict/{index}"), None)
    assert once == ["FastThing"]  # a dict goes the Powertools way
    assert fast_answer["statusCode"] == slow_answer["statusCode"] == from_dict["statusCode"] == 200
    assert fast_answer["body"] == slow_answer["body"] == from_dict["body"]
    assert fast_answer["multiValueHeaders"]["Content-Type"] == slow_answer["multiValueHeaders"]["Content-Type"]
    assert json.loads(fast_answer["body"])["inner"][0]["note"] == TRICKY[index]


def test_json_bodies_have_no_float_fields() -> None:
    """json.dumps and pydantic write some floats differently (1e+16 / 1e16): those models stay two-pass."""
    import comments.handler
    import likes.handler
    import posts.handler

    assert comments.handler and likes.handler and posts.handler
    pending, seen = list(JsonBody.__subclasses__()), set()
    while pending:
        model = pending.pop()
        seen.add(model.__name__)
        pending.extend(model.__subclasses__())
        assert '"number"' not in json.dumps(model.model_json_schema(mode="serialization")), model
    assert {"PostPage", "CommentPage", "LikerPage", "FastThing"} <= seen
