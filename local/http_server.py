"""The gateway behind a socket: a stdlib ThreadingHTTPServer (no extra dependency).

It only does what needs the wire: reading the body the way API Gateway would
accept it (Content-Length or chunked, within the payload limit), writing the
reply with keep-alive semantics, one access line per request, and putting
http.server's own rejections in the error envelope. Everything else is
`Gateway.handle`.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import traceback
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from local.messages import Reply, Request, last_resort

if TYPE_CHECKING:  # the gateway module starts servers: import it for types only
    from local.gateway import Gateway
    from local.lambda_api import LambdaApi
    from local.websocket import WebSocketGateway


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like API Gateway
    server_version = "local-apigw"
    timeout = 15  # a client announcing more body than it sends cannot hold a thread forever
    # Headers and body go out in two writes: without TCP_NODELAY the body waits for the client's
    # delayed ACK of the headers (~40 ms on Linux) on every kept-alive request (bench.ai_steps).
    disable_nagle_algorithm = True
    server: GatewayServer

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; every method goes to the route table (unknown -> 404).
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        started = time.monotonic()
        gateway = self.server.gateway
        sockets = self.server.sockets
        if sockets is not None and sockets.upgrades(self.path):
            self.close_connection = True  # the socket is the WebSocket's from here on
            head = self.raw_requestline + b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in self.headers.items())
            sockets.serve(self.connection, head + b"\r\n", self.client_address[0], self.server.server_address[1])
            return
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
            request = Request(self.command, self.path, list(self.headers.items()), body, peer, port)
            if sockets is not None and sockets.manages(self.path):
                body = sockets.management(request)  # the Management API (@connections)
            elif self.server.functions is not None and self.server.functions.handles(self.path):
                body = self.server.functions.handle(request)  # Lambda's Invoke API
            else:
                body = gateway.handle(request)
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
        sockets = self.server.sockets
        functions = self.server.functions
        if sockets is not None and (sockets.manages(self.path) or sockets.upgrades(self.path)):
            path = sockets.logged_path(self.path)
        elif functions is not None and functions.handles(self.path):
            path = functions.logged_path(self.path)
        else:
            path = self.server.gateway.logged_path(self.path)
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

    def __init__(
        self,
        gateway: Gateway,
        host: str = "127.0.0.1",
        port: int = 3000,
        sockets: WebSocketGateway | None = None,
        functions: LambdaApi | None = None,
    ):
        self.gateway = gateway
        self.sockets = sockets  # the WebSocket API at /ws (local.websocket), on this same port
        self.functions = functions  # Lambda's Invoke API (local.lambda_api), on this same port too
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
        if self.sockets is not None:
            self.sockets.close_all()
        if self._thread is not None:  # shutdown() would wait forever for a loop that never ran
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()
