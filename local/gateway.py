"""The API Gateway emulator: real HTTP in, REST proxy (v1) events to in-process handlers.

It does what the REST API does in front of the functions, so handlers meet the
same events, limits and errors locally as in the cloud: resource matching from
the one route table (literal segments beat `{param}`), the Lambda REQUEST
authorizer and its IAM policy, the CORS preflight mock, the 10 MiB payload
limit, 502 for a failing or malformed integration, and the error envelope for
everything the gateway answers itself. `Gateway.handle` is transport-free;
`serve` puts it behind a stdlib ThreadingHTTPServer (no extra dependency).

This module is the entry point and the request pipeline; its steps live in
local.route_table (resource matching), local.events (the proxy event),
local.authorization (the authorizer and its policy), local.integration (the
Lambda response as a reply) and local.http_server (the socket side).
"""

from __future__ import annotations

import base64
import importlib.util
import sys
import traceback
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from core.config import CoreSettings
from core.http import JSON, envelope, finalize
from core.routes import FUNCTIONS, ROUTES, Route
from local.authorization import authorize
from local.events import proxy_event
from local.http_server import GatewayServer
from local.integration import BadIntegrationResponse, integration_reply
from local.invoke import Invoker, invoke_function
from local.messages import GatewayError, Headers, Reply, Request, header_value, last_resort, wire_text
from local.route_table import RouteTable

__all__ = ["MAX_BODY_BYTES", "Gateway", "GatewayServer", "Reply", "Request", "serve"]

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
PREFLIGHT_ALLOW_HEADERS = "Authorization, Content-Type"


def allow_header(routes: Iterable[Route]) -> str:
    """The Allow header of a resource: its methods and the CORS preflight (RFC 9110 15.5.6)."""
    return ", ".join(sorted({r.method for r in routes} | {"OPTIONS"}))


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


class Gateway:
    """The REST API in front of the functions, without sockets: one Request in, one Reply out."""

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
        return integration_reply(finalize(stub_event, response), request_id)

    def error(self, status: int, code: str, message: str, request_id: str, origin: str | None = None) -> Reply:
        return self.reply(status, envelope(status, code, message, [], request_id), request_id, origin)

    def logged_path(self, target: str) -> str:
        """What the access log may show of a request target: the resource it matched, as the
        cloud's access log does ($context.resourcePath), never the raw path or query, which can
        carry share and invitation tokens."""
        try:
            matched = self.table.match(urlsplit(wire_text(target)).path)
        except ValueError:
            matched = None
        return matched[0] if matched else "(no route)"

    def handle(self, request: Request) -> Reply:
        """Never raises: whatever goes wrong in here is a 500 in the envelope."""
        request_id = str(uuid.uuid4())
        origin = header_value(request.headers, "origin")
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
            target = urlsplit(wire_text(request.target))
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
            # CDK gives every resource an ANY method (a mock) that answers this for the methods
            # the resource lacks; methods outside API Gateway's set never reach a resource.
            raise GatewayError(
                405, "method_not_allowed", f"{method} is not allowed here", headers={"Allow": allow_header(routes)}
            )

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
            event["requestContext"]["authorizer"] = authorize(event, self.invoke, self.functions)
        try:
            response = self.invoke(route.function, event)
        except Exception:  # noqa: BLE001 - a function error is API Gateway's 502
            traceback.print_exc()
            raise GatewayError(502, "internal_error", "Internal server error") from None
        try:
            return integration_reply(response, request_id)
        except BadIntegrationResponse as exc:
            print(f"[gateway] malformed Lambda proxy response from {route.function}: {exc}", file=sys.stderr)
            raise GatewayError(502, "internal_error", "Internal server error") from None

    @staticmethod
    def _forwarded(request: Request) -> Headers:
        """API Gateway appends the client to X-Forwarded-For and sets the proto and port headers."""
        headers = [
            (wire_text(k), wire_text(v))
            for k, v in request.headers
            if k.lower() not in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-port")
        ]
        chain = header_value(request.headers, "x-forwarded-for")
        headers.append(("X-Forwarded-For", f"{chain}, {request.source_ip}" if chain else request.source_ip))
        headers.append(("X-Forwarded-Proto", "http"))
        headers.append(("X-Forwarded-Port", str(request.server_port)))
        return headers

    def _preflight(self, routes: list[Route], request_id: str, origin: str | None) -> Reply:
        """The mock integration CDK puts on every resource: allowed origins get the CORS grant."""
        allowed = CoreSettings.current().cors_allowed_origins
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


def serve(gateway: Gateway | None = None, host: str = "127.0.0.1", port: int = 3000) -> GatewayServer:
    """Start the emulator in a background thread; stop() shuts it down."""
    return GatewayServer(gateway or Gateway(), host, port).start()
