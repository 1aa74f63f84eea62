"""The API Gateway emulator over real HTTP: routing, events, authorizer, CORS, limits, robustness.

Test functions stand in for the API functions and the authorizer (injected as the
gateway's invoker); /api/v1/health goes to the real ops function and database.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from core.routes import FUNCTIONS, ROUTES, Route
from local.authorization import policy_allows
from local.gateway import MAX_BODY_BYTES, Gateway, GatewayServer, Request, serve
from local.invoke import invoke_function
from local.postgres import free_port

ARN = "arn:aws:execute-api:local:000000000000:local/local/"
LIMIT = 64 * 1024
ALLOWED_ORIGIN = "http://localhost:3000"

TEST_ROUTES = (
    Route("GET", "/api/v1/items/{id}", "echo", auth=False),
    Route("GET", "/api/v1/items/special", "echo", auth=False),
    Route("POST", "/api/v1/items", "echo", auth=False),
    Route("GET", "/api/v1/files/{path+}", "echo", auth=False),
    Route("GET", "/api/v1/blob", "blob", auth=False),
    Route("GET", "/api/v1/boom", "boom", auth=False),
    Route("GET", "/api/v1/garbage", "garbage", auth=False),
    Route("DELETE", "/api/v1/nothing", "nothing", auth=False),
    Route("GET", "/api/v1/secure/{id}", "echo", auth=True),
)
BLOB = bytes(range(256)) * 4


def _policy(*statements: tuple[str, str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": e, "Resource": r} for e, r in statements],
    }


def fake_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = (event.get("headers") or {}).get("Authorization", "")
    answers: dict[str, dict[str, Any]] = {
        "Bearer allow": {
            "principalId": "user-1",
            "policyDocument": _policy(("Allow", f"{ARN}GET/api/v1/secure/*")),
            "context": {"user_id": "u1", "admin": True, "n": 3},
        },
        "Bearer deny": {"principalId": "user-1", "policyDocument": _policy(("Deny", f"{ARN}*"))},
        "Bearer elsewhere": {"principalId": "user-1", "policyDocument": _policy(("Allow", f"{ARN}GET/api/v1/other"))},
        "Bearer all-but-2": {
            "principalId": "user-1",
            "policyDocument": _policy(("Allow", f"{ARN}*/*"), ("Deny", f"{ARN}GET/api/v1/secure/2")),
        },
        "Bearer broken": {"policyDocument": "nope"},
    }
    if token in answers:
        return answers[token]
    if token == "Bearer crash":  # e.g. the database is down: API Gateway's AUTHORIZER_FAILURE
        raise RuntimeError("database unreachable")
    raise Exception("Unauthorized")


class Functions:
    """The invoker the gateway calls: test handlers by name, real functions otherwise."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def __call__(self, name: str, event: Any) -> Any:
        with self.lock:
            self.events.setdefault(name, []).append(event)
        if name == "authorizer":
            return fake_authorizer(event, None)
        if name == "echo":
            return {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "multiValueHeaders": {"X-Multi": ["a", "b"]},
                "body": json.dumps(event),
            }
        if name == "blob":
            return {
                "statusCode": 200,
                "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(BLOB).decode(),
                "isBase64Encoded": True,
            }
        if name == "boom":
            raise RuntimeError("handler bug")
        if name == "garbage":
            return ["not", "a", "proxy", "response"]
        if name == "nothing":  # a 204 whose integration still sent a body, as Powertools does for None
            return {"statusCode": 204, "headers": {"Content-Type": "application/json"}, "body": "null"}
        return invoke_function(name, event)


@pytest.fixture(scope="module")
def functions() -> Functions:
    return Functions()


@pytest.fixture(scope="module")
def server(functions: Functions) -> Iterator[GatewayServer]:
    names = {f.name for f in FUNCTIONS} | {"echo", "blob", "boom", "garbage", "nothing", "authorizer"}
    gateway = Gateway((*ROUTES, *TEST_ROUTES), functions=names, invoke=functions, max_body_bytes=LIMIT)
    srv = serve(gateway, port=free_port())
    yield srv
    srv.stop()


@pytest.fixture
def url(server: GatewayServer) -> str:
    return server.url


def assert_envelope(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["Cache-Control"] == "no-store"


def echo(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- routing and events ---------------------------------------------------------------------------


def test_health_through_the_real_ops_function(url: str, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    response = requests.get(f"{url}/api/v1/health", headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok"}
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Request-Id"] == response.headers["x-amzn-RequestId"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "GET /api/v1/health 200" in capsys.readouterr().err  # the access log line


def test_unknown_route_is_a_404_envelope(url: str) -> None:
    assert_envelope(requests.get(f"{url}/api/v1/nope", timeout=5), 404, "not_found")
    assert_envelope(requests.get(f"{url}/", timeout=5), 404, "not_found")


@pytest.mark.parametrize("method", ["DELETE", "POST", "HEAD", "TRACE", "QUERY", "BREW"])
def test_a_method_the_resource_lacks_is_a_405_with_allow(url: str, method: str) -> None:
    response = requests.request(method, f"{url}/api/v1/health", timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, OPTIONS"
    if method != "HEAD":
        assert_envelope(response, 405, "method_not_allowed")


def test_path_parameters_are_decoded_and_literals_win(url: str) -> None:
    event = echo(requests.get(f"{url}/api/v1/items/hello%20w%C3%B6rld", timeout=5))
    assert event["resource"] == "/api/v1/items/{id}"
    assert event["pathParameters"] == {"id": "hello wörld"}
    assert event["path"] == "/api/v1/items/hello wörld"
    assert echo(requests.get(f"{url}/api/v1/items/special", timeout=5))["resource"] == "/api/v1/items/special"
    greedy = echo(requests.get(f"{url}/api/v1/files/a/b/c.txt", timeout=5))
    assert greedy["pathParameters"] == {"path": "a/b/c.txt"}
    assert_envelope(requests.get(f"{url}/api/v1/items/", timeout=5), 404, "not_found")


def test_query_and_header_multi_values(url: str) -> None:
    response = requests.get(
        f"{url}/api/v1/items/1?tag=a&tag=b&q=x%20y&empty=", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5
    )
    event = echo(response)
    assert event["queryStringParameters"] == {"tag": "b", "q": "x y", "empty": ""}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert event["multiValueHeaders"]["X-Forwarded-For"] == ["203.0.113.9, 127.0.0.1"]
    context = event["requestContext"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    assert context["authorizer"] is None
    assert response.headers["X-Multi"] == "a, b"  # multiValueHeaders reach the client


def test_binary_bodies_are_base64_both_ways(url: str) -> None:
    raw = bytes(range(256))
    event = echo(
        requests.post(f"{url}/api/v1/items", data=raw, headers={"Content-Type": "application/octet-stream"}, timeout=5)
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
    text = echo(requests.post(f"{url}/api/v1/items", json={"a": "é"}, timeout=5))
    assert (text["isBase64Encoded"], json.loads(text["body"])) == (False, {"a": "é"})
    empty = echo(requests.post(f"{url}/api/v1/items", timeout=5))
    assert empty["body"] is None
    blob = requests.get(f"{url}/api/v1/blob", timeout=5)
    assert (blob.status_code, blob.content) == (200, BLOB)


def test_chunked_request_body(url: str) -> None:
    event = echo(
        requests.post(
            f"{url}/api/v1/items", data=iter([b'{"a":', b"1}"]), headers={"Content-Type": "application/json"}, timeout=5
        )
    )
    assert event["body"] == '{"a":1}'


def test_body_over_the_limit_is_413(url: str) -> None:
    assert Gateway().max_body_bytes == MAX_BODY_BYTES == 10 * 1024 * 1024
    assert_envelope(requests.post(f"{url}/api/v1/items", data=b"x" * (LIMIT + 1), timeout=5), 413, "payload_too_large")
    at_limit = requests.post(
        f"{url}/api/v1/items", data=b"x" * LIMIT, headers={"Content-Type": "text/plain"}, timeout=5
    )
    assert echo(at_limit)["body"] == "x" * LIMIT
    chunked = requests.post(f"{url}/api/v1/items", data=iter([b"x" * LIMIT, b"y"]), timeout=5)
    assert_envelope(chunked, 413, "payload_too_large")


def test_failing_or_malformed_integration_is_502(url: str) -> None:
    assert_envelope(requests.get(f"{url}/api/v1/boom", timeout=5), 502, "internal_error")
    assert_envelope(requests.get(f"{url}/api/v1/garbage", timeout=5), 502, "internal_error")


@pytest.mark.parametrize(
    "response",
    [
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": "abc"},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "headers": ["x"]},
    ],
)
def test_malformed_proxy_responses(response: dict[str, Any]) -> None:
    gateway = Gateway(TEST_ROUTES, functions={"echo"}, invoke=lambda name, event: response)
    reply = gateway.handle(Request("GET", "/api/v1/items/1"))
    assert reply.status == 502


def test_response_headers_cannot_inject_lines() -> None:
    response = {"statusCode": 200, "headers": {"X-A": "1\r\nSet-Cookie: evil", "Bad Name": "x"}, "body": ""}
    reply = Gateway(TEST_ROUTES, functions={"echo"}, invoke=lambda n, e: response).handle(
        Request("GET", "/api/v1/items/1")
    )
    assert ("X-A", "1 Set-Cookie: evil") in reply.headers
    assert all(name != "Bad Name" for name, _ in reply.headers)


# --- CORS preflight and docs ------------------------------------------------------------------------


def test_preflight_for_an_allowed_origin(url: str) -> None:
    response = requests.options(
        f"{url}/api/v1/items/1", timeout=5, headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert response.headers["Access-Control-Max-Age"] == "600"


def test_preflight_for_another_origin_grants_nothing(url: str) -> None:
    response = requests.options(
        f"{url}/api/v1/items/1",
        timeout=5,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers
    assert_envelope(
        requests.options(f"{url}/api/v1/nope", headers={"Origin": ALLOWED_ORIGIN}, timeout=5), 404, "not_found"
    )


def test_swagger_ui(url: str) -> None:
    page = requests.get(f"{url}/docs", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "/api/v1/openapi.json" in page.text and "/docs/swagger-ui-bundle.min.js" in page.text
    css = requests.get(f"{url}/docs/swagger-ui.min.css", timeout=5)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css") and len(css.content) > 1000


# --- the Lambda REQUEST authorizer ----------------------------------------------------------------


def test_allow_passes_context_to_the_handler(url: str, functions: Functions) -> None:
    event = echo(requests.get(f"{url}/api/v1/secure/1?x=1", headers={"Authorization": "Bearer allow"}, timeout=5))
    authorizer = event["requestContext"]["authorizer"]
    assert isinstance(authorizer.pop("integrationLatency"), int)
    assert authorizer == {"user_id": "u1", "admin": "true", "n": "3", "principalId": "user-1"}
    auth_event = functions.events["authorizer"][-1]
    assert auth_event["type"] == "REQUEST"
    assert auth_event["methodArn"] == f"{ARN}GET/api/v1/secure/1"
    assert (auth_event["resource"], auth_event["path"], auth_event["httpMethod"]) == (
        "/api/v1/secure/{id}",
        "/api/v1/secure/1",
        "GET",
    )
    assert auth_event["pathParameters"] == {"id": "1"}
    assert auth_event["queryStringParameters"] == {"x": "1"}
    assert auth_event["headers"]["Authorization"] == "Bearer allow"
    assert auth_event["requestContext"]["requestId"] == event["requestContext"]["requestId"]


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        ("Bearer deny", 403, "forbidden"),
        ("Bearer elsewhere", 403, "forbidden"),
        ("Bearer raise", 401, "unauthorized"),
        (None, 401, "unauthorized"),
        ("Bearer broken", 500, "internal_error"),
        ("Bearer crash", 503, "unavailable"),
    ],
)
def test_denials_never_reach_the_handler(
    url: str, functions: Functions, token: str | None, status: int, code: str
) -> None:
    before = len(functions.events.get("echo", []))
    headers = {"Authorization": token} if token else {}
    assert_envelope(requests.get(f"{url}/api/v1/secure/1", headers=headers, timeout=5), status, code)
    assert len(functions.events.get("echo", [])) == before


def test_explicit_deny_beats_a_wildcard_allow(url: str) -> None:
    headers = {"Authorization": "Bearer all-but-2"}
    assert requests.get(f"{url}/api/v1/secure/1", headers=headers, timeout=5).status_code == 200
    assert_envelope(requests.get(f"{url}/api/v1/secure/2", headers=headers, timeout=5), 403, "forbidden")


def test_without_an_authorizer_function_auth_routes_are_401() -> None:
    gateway = Gateway(TEST_ROUTES, functions={"echo"}, invoke=lambda name, event: pytest.fail("invoked"))
    reply = gateway.handle(Request("GET", "/api/v1/secure/1", [("Authorization", "Bearer allow")]))
    assert reply.status == 401
    assert json.loads(reply.body)["error"]["code"] == "unauthorized"


def test_policy_wildcards() -> None:
    arn = f"{ARN}GET/api/v1/posts/123"
    assert policy_allows(_policy(("Allow", f"{ARN}GET/api/v1/posts/???")), arn)
    assert not policy_allows(_policy(("Allow", f"{ARN}GET/api/v1/posts/??")), arn)
    assert policy_allows({"Statement": {"Effect": "Allow", "Action": "execute-api:*", "Resource": ["x", "*"]}}, arn)
    assert not policy_allows({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, arn)
    assert not policy_allows({"Statement": []}, arn)
    assert not policy_allows(_policy(("Allow", f"{ARN}POST/*")), arn)


# --- robustness ---------------------------------------------------------------------------------------


def _raw(url: str, payload: bytes, *, half_close: bool = False) -> bytes:
    """Send bytes no HTTP client would, read until the server closes (every case here closes)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("payload", "status", "half_close"),
    [
        (b"GARBAGE\r\n\r\n", b"400", False),
        (b"GET /api/v1/items/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"200", False),
        (b"GET /api/v1/items/1?q=\xff HTTP/1.1\r\nX-Name: \xc3\xa9\xff\r\nConnection: close\r\n\r\n", b"200", False),
        (b"GET * HTTP/1.1\r\nConnection: close\r\n\r\n", b"404", False),
        (b"GET /api/v1/health HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", b"431", False),
        (b"GET /api/v1/health HTTP/1.1\r\n" + b"X-H: 1\r\n" * 150 + b"\r\n", b"431", False),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414", False),
        (b"POST /api/v1/items HTTP/1.1\r\nContent-Length: abc\r\n\r\n", b"400", False),
        (b"POST /api/v1/items HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"400", False),
        (b"POST /api/v1/items HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", b"400", False),
        (b"POST /api/v1/items HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort", b"400", True),
        (b"POST /api/v1/items HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", b"413", False),
        (b"POST /api/v1/items HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400", False),
        (b"GET /api/v1/items/1 HTTP/9.9\r\n\r\n", b"505", False),
    ],
)
def test_malformed_requests_get_an_answer_and_the_server_lives(
    url: str, payload: bytes, status: bytes, half_close: bool
) -> None:
    answer = _raw(url, payload, half_close=half_close)
    assert answer.split(b" ", 2)[1] == status, answer[:300]
    if status != b"200":  # the gateway's own answers carry the security headers
        assert b"X-Content-Type-Options: nosniff" in answer and b'"error":{"code":' in answer
    assert requests.get(f"{url}/api/v1/items/alive", timeout=5).status_code == 200


def test_client_hanging_up_mid_body_does_not_hurt(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/items HTTP/1.1\r\nContent-Length: 1000\r\n\r\npartial")
    assert requests.get(f"{url}/api/v1/items/alive", timeout=5).status_code == 200


def test_concurrent_requests(url: str) -> None:
    results: list[int] = []

    def hit() -> None:
        results.append(requests.get(f"{url}/api/v1/items/x", timeout=10).status_code)

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 20


def test_no_content_sends_no_body_so_a_kept_alive_connection_stays_in_step(server: GatewayServer) -> None:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    try:
        connection.request("DELETE", "/api/v1/nothing")
        first = connection.getresponse()
        assert first.status == 204 and first.read() == b"" and first.getheader("Content-Type") is None
        connection.request("GET", "/api/v1/items/7")  # same connection
        second = connection.getresponse()
        assert second.status == 200 and json.loads(second.read())["pathParameters"] == {"id": "7"}
    finally:
        connection.close()
