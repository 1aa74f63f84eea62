"""API Gateway's WebSocket API, locally: ws://127.0.0.1:<port>/ws on the gateway's own port.

local.http_server hands over a request for /ws that asks to upgrade, with its socket; the
`websockets` library does the rest of the protocol (no frame is parsed here): its sans-I/O
`ServerProtocol` is fed the request line and headers http.server already read, then its
threaded `ServerConnection` does the handshake and the frames. What API Gateway adds is done
here, with the routes of core.routes.WEBSOCKET_ROUTES as Lambda proxy events of API Gateway's
shapes (requestContext.routeKey, eventType CONNECT / MESSAGE / DISCONNECT, connectionId,
domainName, stage; queryStringParameters on connect):

- `$connect` decides the handshake: a 2xx lets the client in, any other status is the HTTP
  answer (so a refused ticket is a 401 at the handshake);
- each message goes to the route its `action` names, else `$default`; a route with a route
  response (`$default`) sends the body the function returns back to the caller;
- `$disconnect` follows any close, whoever closes, and API Gateway's 2-hour limit closes too;
- the Management API at /ws/@connections/{id}: POST sends the body as a frame, GET describes the
  connection, DELETE closes it; an unknown id is 410 GoneException. boto3's
  `apigatewaymanagementapi` with endpoint_url=http://127.0.0.1:<port>/ws works unchanged
  (requests must be SigV4-signed, as in the cloud; the signature itself is not checked).
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from core.routes import WEBSOCKET_ROUTES
from local.invoke import Invoker, invoke_function
from local.messages import Headers, Reply, Request, header_value

if TYPE_CHECKING:
    from websockets.http11 import Request as HandshakeRequest
    from websockets.http11 import Response as HandshakeResponse
    from websockets.sync.server import ServerConnection

WS_PATH = "/ws"
MANAGEMENT_PREFIX = f"{WS_PATH}/@connections/"
STAGE = "local"
API_ID = "local"
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message limit (in 32 KB frames)
MAX_CONNECTION_S = 2 * 3600  # API Gateway closes every connection after 2 hours
TWO_WAY_ROUTES = frozenset({"$default"})  # routes with a route response (infra_cdk/constructs/realtime.py)
GOING_AWAY = 1001


def _now_ms() -> int:
    return int(time.time() * 1000)


def _request_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def new_connection_id() -> str:
    """Shaped like API Gateway's (16 characters of URL-safe base64, ending in '='), so clients and
    the Management API path meet the same characters as in the cloud."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes[:11]).decode("ascii")


def _maps(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's single-value (last value wins) and multi-value maps; None when empty."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


@dataclass
class _Live:
    """One open connection, as API Gateway knows it."""

    connection_id: str
    socket: ServerConnection
    connected_at_ms: int
    source_ip: str
    user_agent: str | None
    domain_name: str
    last_active_ms: int = field(default_factory=_now_ms)
    done: threading.Event = field(default_factory=threading.Event)


class _NoNewHandshakes:
    """What websockets' ServerConnection asks of its server: whether it is shutting down."""

    def __init__(self) -> None:
        self.socket_closed = threading.Event()


class WebSocketGateway:
    """The WebSocket API and its Management API, without a listening socket of its own."""

    def __init__(
        self,
        routes: Iterable[tuple[str, str]] = WEBSOCKET_ROUTES,
        *,
        invoke: Invoker = invoke_function,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_connection_s: float = MAX_CONNECTION_S,
    ):
        self.functions = dict(routes)
        if "$default" not in self.functions:
            raise ValueError("a WebSocket API needs a $default route")
        self.invoke = invoke
        self.max_message_bytes = max_message_bytes
        self.max_connection_s = max_connection_s
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()
        self._server = _NoNewHandshakes()

    # --- which requests are ours (local.http_server asks) ---

    @staticmethod
    def _path(target: str) -> str:
        return urlsplit(target).path

    def upgrades(self, target: str) -> bool:
        """A request for the WebSocket endpoint: handed over with its socket."""
        return self._path(target) == WS_PATH

    def manages(self, target: str) -> bool:
        """A Management API request: an ordinary HTTP request answered by `management`."""
        return self._path(target).startswith(MANAGEMENT_PREFIX)

    def logged_path(self, target: str) -> str:
        return f"{MANAGEMENT_PREFIX}{{connectionId}}" if self.manages(target) else WS_PATH

    @property
    def open_connections(self) -> list[str]:
        with self._lock:
            return list(self._live)

    # --- the WebSocket endpoint ---

    def serve(self, sock: socket.socket, request_head: bytes, source_ip: str, server_port: int) -> None:
        """Run one connection on `sock`, whose request line and headers (`request_head`, up to the
        blank line) were already read; returns when it is closed (the socket too)."""
        from websockets.http11 import Request as HandshakeRequest
        from websockets.protocol import OPEN
        from websockets.server import ServerProtocol
        from websockets.sync.server import Server, ServerConnection

        sock.settimeout(None)  # http.server's idle timeout is not the WebSocket's
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        protocol = ServerProtocol(max_size=self.max_message_bytes)
        protocol.receive_data(request_head)
        events = protocol.events_received()
        if not events or not isinstance(events[0], HandshakeRequest):  # not a request websockets accepts
            answer = b"".join(protocol.data_to_send())
            if not answer:  # websockets just hangs up (a method other than GET, say): API Gateway answers
                refusal = protocol.reject(HTTPStatus.BAD_REQUEST, "Open a WebSocket with GET and Upgrade: websocket\n")
                answer = refusal.serialize()
            try:
                sock.sendall(answer)
            finally:
                sock.close()
            return
        connection_id = new_connection_id()
        connected_at = _now_ms()
        connection = ServerConnection(
            sock,
            protocol,
            cast(Server, self._server),
            ping_interval=None,  # API Gateway does not ping clients; clients keep their connection alive
            close_timeout=5,
        )
        connection.process_event(events[0])  # the handshake request, as if its reader had parsed it

        def on_handshake(conn: ServerConnection, request: HandshakeRequest) -> HandshakeResponse | None:
            return self._connect(conn, request, connection_id, connected_at, source_ip, server_port)

        try:
            connection.handshake(process_request=on_handshake, server_header="local-apigw", timeout=10)
        except Exception:  # noqa: BLE001 - the client left or lied mid-handshake
            connection.close_socket()
            return
        if connection.protocol.state is not OPEN:
            connection.close_socket()
            return
        request = connection.request
        assert request is not None
        live = _Live(
            connection_id,
            connection,
            connected_at,
            source_ip,
            request.headers.get("User-Agent"),
            request.headers.get("Host") or f"127.0.0.1:{server_port}",
        )
        with self._lock:
            self._live[connection_id] = live
        print(f"[websocket] connected {connection_id} ({len(self._live)} open)", file=sys.stderr, flush=True)
        try:
            self._session(live)
        finally:
            with self._lock:
                self._live.pop(connection_id, None)
            self._disconnect(live)
            connection.close_socket()
            live.done.set()

    def _context(self, live_or_id: _Live | str, route: str, event_type: str, **extra: Any) -> dict[str, Any]:
        now = _now_ms()
        request_id = base64.urlsafe_b64encode(uuid.uuid4().bytes[:12]).decode("ascii")
        if isinstance(live_or_id, _Live):
            connection_id, connected_at = live_or_id.connection_id, live_or_id.connected_at_ms
            source_ip, user_agent, domain = live_or_id.source_ip, live_or_id.user_agent, live_or_id.domain_name
        else:
            connection_id, connected_at = live_or_id, extra.pop("connected_at")
            source_ip, user_agent, domain = extra.pop("source_ip"), extra.pop("user_agent"), extra.pop("domain")
        identity = {"sourceIp": source_ip, **({"userAgent": user_agent} if user_agent else {})}
        return {
            "routeKey": route,
            **extra,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": _request_time(now),
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "identity": identity,
            "requestId": request_id,
            "domainName": domain,
            "connectionId": connection_id,
            "apiId": API_ID,
        }

    def _connect(
        self,
        conn: ServerConnection,
        request: HandshakeRequest,
        connection_id: str,
        connected_at: int,
        source_ip: str,
        server_port: int,
    ) -> HandshakeResponse:
        """API Gateway checks the upgrade itself, then lets `$connect` decide."""
        response = conn.protocol.accept(request)
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            return response
        headers: Headers = [
            (k, v)
            for k, v in request.headers.raw_items()
            if k.lower() not in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-port")
        ]
        chain = request.headers.get("X-Forwarded-For")
        headers += [
            ("X-Forwarded-For", f"{chain}, {source_ip}" if chain else source_ip),
            ("X-Forwarded-Port", str(server_port)),
            ("X-Forwarded-Proto", "http"),
        ]
        single_headers, multi_headers = _maps(headers)
        single_query, multi_query = _maps(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
        event = {
            "headers": single_headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": single_query,
            "multiValueQueryStringParameters": multi_query,
            "requestContext": self._context(
                connection_id,
                "$connect",
                "CONNECT",
                connected_at=connected_at,
                source_ip=source_ip,
                user_agent=request.headers.get("User-Agent"),
                domain=request.headers.get("Host") or f"127.0.0.1:{server_port}",
            ),
            "isBase64Encoded": False,
        }
        function = self.functions.get("$connect")
        if function is None:  # no $connect route: API Gateway lets everyone in
            return response
        try:
            result = self.invoke(function, event)
            status = int(result["statusCode"]) if isinstance(result, dict) else 502
        except Exception:  # noqa: BLE001 - a failing integration is API Gateway's 500 at the handshake
            traceback.print_exc()
            return conn.respond(HTTPStatus.INTERNAL_SERVER_ERROR, '{"message": "Internal server error"}')
        if 200 <= status < 300:
            return response
        body = result.get("body") if isinstance(result, dict) else None
        refusal = conn.respond(status, body if isinstance(body, str) and body else HTTPStatus(status).phrase)
        if isinstance(body, str) and body.startswith("{"):
            del refusal.headers["Content-Type"]
            refusal.headers["Content-Type"] = "application/json"
        print(f"[websocket] $connect refused: {status}", file=sys.stderr, flush=True)
        return refusal

    def _session(self, live: _Live) -> None:
        from websockets.exceptions import ConnectionClosed

        deadline = time.monotonic() + self.max_connection_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                live.socket.close(GOING_AWAY, "Going away")  # API Gateway's maximum connection duration
                return
            try:
                message = live.socket.recv(timeout=min(remaining, 60))
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            live.last_active_ms = _now_ms()
            self._message(live, message)

    def _route_of(self, body: str | None) -> str:
        """The route selection expression `$request.body.action`, falling back to `$default`."""
        if body is None:
            return "$default"
        try:
            action = json.loads(body).get("action")
        except (ValueError, AttributeError):
            return "$default"
        if isinstance(action, str) and action in self.functions and not action.startswith("$"):
            return action
        return "$default"

    def _message(self, live: _Live, message: str | bytes) -> None:
        text = message if isinstance(message, str) else None
        route = self._route_of(text)
        context = self._context(
            live, route, "MESSAGE", messageId=base64.urlsafe_b64encode(uuid.uuid4().bytes[:12]).decode()
        )
        event = {
            "requestContext": context,
            "body": text if text is not None else base64.b64encode(cast(bytes, message)).decode("ascii"),
            "isBase64Encoded": text is None,
        }
        started = time.monotonic()
        try:
            result = self.invoke(self.functions[route], event)
        except Exception:  # noqa: BLE001 - as API Gateway does: the caller hears of it, the connection stays
            traceback.print_exc()
            self._send(live, json.dumps({"message": "Internal server error", "connectionId": live.connection_id,
                                         "requestId": context["requestId"]}))  # fmt: skip
            return
        elapsed_ms = (time.monotonic() - started) * 1000
        print(f"[websocket] {route} {live.connection_id} {elapsed_ms:.1f}ms", file=sys.stderr, flush=True)
        body = result.get("body") if isinstance(result, dict) else None
        if route in TWO_WAY_ROUTES and isinstance(body, str) and body:
            self._send(live, body)

    @staticmethod
    def _send(live: _Live, data: str | bytes) -> bool:
        from websockets.exceptions import ConnectionClosed

        try:
            live.socket.send(data)
        except ConnectionClosed:
            return False
        return True

    def _disconnect(self, live: _Live) -> None:
        function = self.functions.get("$disconnect")
        if function is None:
            return
        code = live.socket.close_code
        event = {
            "headers": {"Host": live.domain_name},
            "multiValueHeaders": {"Host": [live.domain_name]},
            "requestContext": self._context(
                live,
                "$disconnect",
                "DISCONNECT",
                disconnectStatusCode=code if code is not None else 1006,
                disconnectReason=live.socket.close_reason or "",
            ),
            "isBase64Encoded": False,
        }
        try:
            self.invoke(function, event)
        except Exception:  # noqa: BLE001 - API Gateway ignores $disconnect's outcome
            traceback.print_exc()
        print(f"[websocket] disconnected {live.connection_id}", file=sys.stderr, flush=True)

    def close_all(self, timeout: float = 5.0) -> None:
        """Stop taking handshakes, close every connection (each runs `$disconnect`) and wait a little."""
        self._server.socket_closed.set()
        with self._lock:
            live = list(self._live.values())
        for one in live:
            threading.Thread(target=one.socket.close, args=(GOING_AWAY, "Going away"), daemon=True).start()
        deadline = time.monotonic() + timeout
        for one in live:
            one.done.wait(max(0.0, deadline - time.monotonic()))

    # --- the Management API ---

    def management(self, request: Request) -> Reply:
        """POST / GET / DELETE /ws/@connections/{connectionId}, as API Gateway answers them."""
        connection_id = unquote(self._path(request.target)[len(MANAGEMENT_PREFIX) :])
        authorization = header_value(request.headers, "authorization") or ""
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return _management_error(403, "ForbiddenException", "Missing Authentication Token")
        if not connection_id or "/" in connection_id:
            return _management_error(404, "NotFoundException", "Not Found")
        method = request.method.upper()
        if method not in ("POST", "GET", "DELETE"):
            return _management_error(405, "MethodNotAllowedException", f"{method} is not allowed here")
        with self._lock:
            live = self._live.get(connection_id)
        if live is None:
            return _management_error(410, "GoneException", "The connection is gone")
        if method == "GET":
            info = {  # the wire names of botocore's GetConnectionResponse
                "connectedAt": _iso(live.connected_at_ms),
                "identity": {"sourceIp": live.source_ip, "userAgent": live.user_agent or ""},
                "lastActiveAt": _iso(live.last_active_ms),
            }
            return _management_reply(200, json.dumps(info).encode())
        if method == "DELETE":
            threading.Thread(target=live.socket.close, name="ws-delete", daemon=True).start()
            return _management_reply(204, b"")
        if len(request.body) > self.max_message_bytes:
            return _management_error(413, "PayloadTooLargeException", "Message too long")
        try:
            data: str | bytes = request.body.decode("utf-8")
        except UnicodeDecodeError:
            data = request.body
        if not self._send(live, data):
            return _management_error(410, "GoneException", "The connection is gone")
        return _management_reply(200, b"")


def _management_reply(status: int, body: bytes, headers: Headers | None = None) -> Reply:
    base: Headers = [
        ("Date", formatdate(usegmt=True)),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("Content-Type", "application/json"),
    ]
    return Reply(status, base + list(headers or []), body)


def _management_error(status: int, error_type: str, message: str) -> Reply:
    """The error shape botocore reads: the type in x-amzn-ErrorType, the message in the body."""
    body = json.dumps({"message": message}).encode()
    return _management_reply(status, body, [("x-amzn-ErrorType", error_type)])
