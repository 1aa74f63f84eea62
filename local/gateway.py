"""The API Gateway emulator: real HTTP in, REST proxy (v1) events to in-process handlers.

It does what the REST API does in front of the functions, so handlers meet the
same events, limits and errors locally as in the cloud: resource matching from
the one route table (literal segments beat `{param}`), the Lambda REQUEST
authorizer and its IAM policy, the CORS preflight mock, the 10 MiB payload
limit, 502 for a failing or malformed integration, and the error envelope for
everything the gateway answers itself. `Gateway.handle` is transport-free;
`serve` puts it behind a stdlib ThreadingHTTPServer (no extra dependency).
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from core.config import get_settings
from core.http import JSON, envelope, finalize
from core.routes import FUNCTIONS, ROUTES, Route
from local.events import proxy_event
from local.invoke import Invoker, invoke_function

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024  # a larger synchronous Lambda response is an integration failure
PREFLIGHT_ALLOW_HEADERS = "Authorization, Content-Type"
METHOD_ARN_PREFIX = "arn:aws:execute-api:local:000000000000:local/local/"
AUTHORIZER = "authorizer"
_DROPPED_RESPONSE_HEADERS = {"content-length", "connection", "transfer-encoding", "keep-alive"}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

Headers = list[tuple[str, str]]


@dataclass
class Request:
    method: str
    target: str  # the request-target as sent: path and query
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    server_port: int = 3000


@dataclass
class Reply:
    status: int
    headers: Headers
    body: bytes
    close: bool = False  # the request body was not (fully) read: drop the connection


class BadIntegrationResponse(ValueError):
    """What API Gateway logs as 'Malformed Lambda proxy response'."""


# --- routing ------------------------------------------------------------------------------------


class RouteTable:
    """API Gateway resources: a path template owns methods; the most literal template wins."""

    def __init__(self, routes: Iterable[Route]):
        self.by_resource: dict[str, list[Route]] = {}
        for route in routes:
            self.by_resource.setdefault(route.path, []).append(route)

    @staticmethod
    def _bind(template: str, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        parts = template.split("/")
        rank: list[int] = []
        params: dict[str, str] = {}
        for i, part in enumerate(parts):
            if part.startswith("{") and part.endswith("+}"):  # greedy {proxy+}
                rest = segments[i:]
                if not rest or not rest[0]:
                    return None
                params[part[1:-2]] = unquote("/".join(rest), errors="replace")
                return (*rank, 2), params
            if i >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                if not segments[i]:
                    return None
                params[part[1:-1]] = unquote(segments[i], errors="replace")
                rank.append(1)
            elif part == segments[i]:
                rank.append(0)
            else:
                return None
        return (tuple(rank), params) if len(parts) == len(segments) else None

    def match(self, raw_path: str) -> tuple[str, dict[str, str]] | None:
        """(resource template, decoded path parameters) for a raw, still %-encoded path."""
        segments = raw_path.split("/")
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for template in self.by_resource:
            bound = self._bind(template, segments)
            if bound and (best is None or bound[0] < best[0]):
                best = (bound[0], template, bound[1])
        return (best[1], best[2]) if best else None


# --- the authorizer's IAM policy ----------------------------------------------------------------


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation for execute-api:Invoke: an explicit Deny wins, else any Allow, else deny."""
    allowed = False
    for statement in _as_list(policy.get("Statement") or []):
        if not isinstance(statement, dict):
            continue
        actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
        resources = [r for r in _as_list(statement.get("Resource")) if isinstance(r, str)]
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


class GatewayError(Exception):
    """An answer the gateway gives itself (no route, denied, integration failure), in the envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


# --- the gateway ----------------------------------------------------------------------------------


def _swagger_dir() -> Path:
    spec = importlib.util.find_spec("aws_lambda_powertools")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "event_handler" / "openapi" / "swagger_ui"


DOCS_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>API docs (local)</title>
<link rel="stylesheet" href="/docs/swagger-ui.min.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.min.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true});</script>
</body></html>
"""
DOCS_ASSETS = {
    "/docs/swagger-ui-bundle.min.js": "application/javascript; charset=utf-8",
    "/docs/swagger-ui.min.css": "text/css; charset=utf-8",
}


def _text(value: str) -> str:
    """http.server decodes the wire as latin-1; API Gateway hands UTF-8 text (invalid bytes replaced)."""
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


def _header(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


class Gateway:
    def __init__(
        self,
        routes: Sequence[Route] = ROUTES,
        *,
        functions: Iterable[str] | None = None,
        invoke: Invoker = invoke_function,
        max_body_bytes: int = MAX_BODY_BYTES,
    ):
        self.table = RouteTable(routes)
        self.functions = set(functions) if functions is not None else {f.name for f in FUNCTIONS}
        self.invoke = invoke
        self.max_body_bytes = max_body_bytes
        self._assets: dict[str, bytes] = {}

    # Replies the gateway writes itself carry the same headers as the handlers' (core.http.finalize).
    def reply(
        self,
        status: int,
        body: str | bytes,
        request_id: str,
        origin: str | None = None,
        content_type: str = JSON,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        response = {
            "statusCode": status,
            "multiValueHeaders": {"Content-Type": [content_type], **{k: [v] for k, v in (headers or {}).items()}},
            "body": body if isinstance(body, str) else base64.b64encode(body).decode("ascii"),
            "isBase64Encoded": not isinstance(body, str),
        }
        stub_event = {"requestContext": {"requestId": request_id}, "headers": {"Origin": origin} if origin else {}}
        return self.integration_reply(finalize(stub_event, response), request_id)

    def error(self, status: int, code: str, message: str, request_id: str, origin: str | None = None) -> Reply:
        return self.reply(status, envelope(status, code, message, [], request_id), request_id, origin)

    def handle(self, request: Request) -> Reply:
        """Never raises: whatever goes wrong in here is a 500 in the envelope."""
        request_id = str(uuid.uuid4())
        origin = _header(request.headers, "origin")
        try:
            return self._handle(request, request_id, origin)
        except GatewayError as err:
            body = envelope(err.status, err.code, err.message, [], request_id)
            return self.reply(err.status, body, request_id, origin, headers=err.headers)
        except Exception:  # noqa: BLE001 - the emulator must answer whatever happens
            traceback.print_exc()
            return last_resort(request_id)

    def _handle(self, request: Request, request_id: str, origin: str | None) -> Reply:
        method = request.method.upper()
        try:
            target = urlsplit(_text(request.target))
        except ValueError:
            raise GatewayError(400, "bad_request", "Malformed request target") from None
        raw_path = target.path
        if not raw_path.startswith("/"):
            raise GatewayError(404, "not_found", "No such route")
        if method == "GET" and raw_path in ("/docs", "/docs/", *DOCS_ASSETS):
            return self._docs(raw_path, request_id)
        if len(request.body) > self.max_body_bytes:
            raise GatewayError(413, "payload_too_large", f"Request body over {self.max_body_bytes} bytes")
        matched = self.table.match(raw_path)
        if matched is None:
            raise GatewayError(404, "not_found", "No such route")
        template, path_params = matched
        routes = self.table.by_resource[template]
        route = next((r for r in routes if r.method in (method, "ANY")), None)
        if route is None and method == "OPTIONS":
            return self._preflight(routes, request_id, origin)
        if route is None:
            raise GatewayError(404, "not_found", "No such route")

        event = proxy_event(
            method,
            unquote(raw_path, errors="replace"),
            route=route,
            path_params=path_params,
            headers=self._forwarded(request),
            query=parse_qsl(target.query, keep_blank_values=True),
            body=request.body or None,
            source_ip=request.source_ip,
            request_id=request_id,
        )
        if route.auth:
            event["requestContext"]["authorizer"] = self._authorize(event)
        try:
            response = self.invoke(route.function, event)
        except Exception:  # noqa: BLE001 - a function error is API Gateway's 502
            traceback.print_exc()
            raise GatewayError(502, "internal_error", "Internal server error") from None
        try:
            return self.integration_reply(response, request_id)
        except BadIntegrationResponse as exc:
            print(f"[gateway] malformed Lambda proxy response from {route.function}: {exc}", file=sys.stderr)
            raise GatewayError(502, "internal_error", "Internal server error") from None

    @staticmethod
    def _forwarded(request: Request) -> Headers:
        """API Gateway appends the client to X-Forwarded-For and sets the proto and port headers."""
        headers = [
            (_text(k), _text(v))
            for k, v in request.headers
            if k.lower() not in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-port")
        ]
        chain = _header(request.headers, "x-forwarded-for")
        headers.append(("X-Forwarded-For", f"{chain}, {request.source_ip}" if chain else request.source_ip))
        headers.append(("X-Forwarded-Proto", "http"))
        headers.append(("X-Forwarded-Port", str(request.server_port)))
        return headers

    def _authorize(self, event: dict[str, Any]) -> dict[str, Any]:
        """A Lambda REQUEST authorizer, as API Gateway runs it (without result caching)."""
        if AUTHORIZER not in self.functions:
            raise GatewayError(401, "unauthorized", "Unauthorized")
        method_arn = f"{METHOD_ARN_PREFIX}{event['httpMethod']}{event['path']}"
        keys = (
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
        auth_event = {"type": "REQUEST", "methodArn": method_arn, **{k: event[k] for k in keys}}
        started = time.monotonic()
        try:
            result = self.invoke(AUTHORIZER, auth_event)
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

    def _preflight(self, routes: list[Route], request_id: str, origin: str | None) -> Reply:
        """The mock integration CDK puts on every resource: allowed origins get the CORS grant."""
        allowed = get_settings().cors_allowed_origins
        if not origin or not ("*" in allowed or origin in allowed):
            return self.reply(204, "", request_id)
        methods = sorted({r.method for r in routes} | {"OPTIONS"})
        return self.reply(
            204,
            "",
            request_id,
            origin,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ",".join(methods),
                "Access-Control-Allow-Headers": PREFLIGHT_ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            },
        )

    def _docs(self, path: str, request_id: str) -> Reply:
        if path in DOCS_ASSETS:
            if path not in self._assets:
                self._assets[path] = (_swagger_dir() / path.rsplit("/", 1)[1]).read_bytes()
            return self.reply(200, self._assets[path], request_id, content_type=DOCS_ASSETS[path])
        return self.reply(200, DOCS_HTML, request_id, content_type="text/html; charset=utf-8")

    @staticmethod
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
        merged.update({k: _as_list(v) for k, v in multi.items()})
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


def last_resort(request_id: str) -> Reply:
    """When even building an error fails (settings unreadable): a fixed 500 envelope."""
    body = envelope(500, "internal_error", "Internal server error", [], request_id).encode()
    headers = [
        ("Content-Type", JSON),
        ("X-Request-Id", request_id),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]
    return Reply(500, headers, body)


# --- HTTP transport ---------------------------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like API Gateway
    server_version = "local-apigw"
    timeout = 15  # a client announcing more body than it sends cannot hold a thread forever
    server: GatewayServer

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; every method goes to the route table (unknown -> 404).
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        started = time.monotonic()
        gateway = self.server.gateway
        try:
            body = self._read_body(gateway, str(uuid.uuid4()), self.headers.get("Origin"))
        except (TimeoutError, ConnectionError):
            self.close_connection = True  # the client stalled or left mid-body: nobody to answer
            return
        except Exception:  # noqa: BLE001 - the emulator answers whatever happens
            traceback.print_exc()
            body = _closing(last_resort(str(uuid.uuid4())))
        if isinstance(body, bytes):
            peer, port = self.client_address[0], self.server.server_address[1]
            body = gateway.handle(Request(self.command, self.path, list(self.headers.items()), body, peer, port))
        self._write(body, started)

    def _read_body(self, gateway: Gateway, rid: str, origin: str | None) -> bytes | Reply:
        """The body, or the answer to a body API Gateway would refuse (the connection then closes)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(gateway, rid)
        lengths = set(self.headers.get_all("Content-Length") or [])
        if not lengths:
            return b""
        raw = lengths.pop().strip()
        if lengths or not raw.isdigit():
            return _closing(gateway.error(400, "bad_request", "Invalid Content-Length", rid, origin))
        if int(raw) > gateway.max_body_bytes:
            return _too_large(gateway, rid)
        body = self.rfile.read(int(raw))
        if len(body) != int(raw):
            return _closing(gateway.error(400, "bad_request", "Request body shorter than Content-Length", rid, origin))
        return body

    def _read_chunked(self, gateway: Gateway, rid: str) -> bytes | Reply:
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            except ValueError:
                return _closing(gateway.error(400, "bad_request", "Malformed chunked body", rid))
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > gateway.max_body_bytes:
                return _too_large(gateway, rid)
            chunk = self.rfile.read(size)
            self.rfile.readline(8)
            if len(chunk) != size:
                return _closing(gateway.error(400, "bad_request", "Truncated chunked body", rid))
            chunks.append(chunk)

    def _write(self, reply: Reply, started: float) -> None:
        # A 204/304 has no body on the wire whatever the integration said (API Gateway drops it too);
        # a stray body would be read as the start of the next response on a kept-alive connection.
        body = b"" if reply.status in (204, 304) else reply.body
        self.send_response(reply.status)
        for name, value in reply.headers:
            if not (body == b"" and reply.status in (204, 304) and name.lower() == "content-type"):
                self.send_header(name, value)
        if reply.status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        elapsed_ms = (time.monotonic() - started) * 1000
        path = _text(self.path.split("?", 1)[0])[:200]
        print(f"[gateway] {self.command} {path} {reply.status} {elapsed_ms:.1f}ms", file=sys.stderr, flush=True)
        try:
            self.end_headers()  # the access line comes first: a client that has its answer sees the line too
            if self.command != "HEAD" and body:
                self.wfile.write(body)
        except ConnectionError:  # the client left; nothing to do about it
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own rejections (bad request line, huge headers) in the envelope too."""
        started = time.monotonic()
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        error_code = "payload_too_large" if status == 413 else re.sub(r"[^a-z]+", "_", status.phrase.lower())
        rid = str(uuid.uuid4())
        try:
            reply = _closing(self.server.gateway.error(status.value, error_code, message or status.phrase, rid))
        except Exception:  # noqa: BLE001 - settings unreadable: still answer
            reply = _closing(last_resort(rid))
        self.command = self.command or "-"
        self.path = getattr(self, "path", "-")
        self.request_version = "HTTP/1.1"  # answer with a status line and headers, even to garbage
        self._write(reply, started)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: _write prints one access line per request."""


def _closing(reply: Reply) -> Reply:
    reply.close = True
    return reply


def _too_large(gateway: Gateway, request_id: str) -> Reply:
    message = f"Request body over {gateway.max_body_bytes} bytes"
    return _closing(gateway.error(413, "payload_too_large", message, request_id))


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of connections (1 s SYN retry each)

    def __init__(self, gateway: Gateway, host: str = "127.0.0.1", port: int = 3000):
        self.gateway = gateway
        super().__init__((host, port), _RequestHandler, bind_and_activate=False)
        try:
            self.server_bind()  # claim the port now; listen only in start(), so early clients are refused, not stalled
        except OSError:
            self.server_close()
            raise
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GatewayServer:
        self.server_activate()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() would wait forever for a loop that never ran
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()


def serve(gateway: Gateway | None = None, host: str = "127.0.0.1", port: int = 3000) -> GatewayServer:
    """Start the emulator in a background thread; stop() shuts it down."""
    return GatewayServer(gateway or Gateway(), host, port).start()
