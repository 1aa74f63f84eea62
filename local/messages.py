"""What passes between the HTTP server and the gateway: a Request in, a Reply out.

Kept apart from both so the transport-free gateway (tests call it directly) and
the socket adapter share one vocabulary without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.http import JSON, envelope

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


class GatewayError(Exception):
    """An answer the gateway gives itself (no route, denied, integration failure), in the envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


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


def wire_text(value: str) -> str:
    """http.server decodes the wire as latin-1; API Gateway hands UTF-8 text (invalid bytes replaced)."""
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


def header_value(headers: Headers, name: str) -> str | None:
    """The first value of a header; `name` in lower case."""
    return next((v for k, v in headers if k.lower() == name), None)


def as_list(value: Any) -> list[Any]:
    """API Gateway's JSON takes one value or a list (IAM Action/Resource, multiValueHeaders)."""
    return value if isinstance(value, list) else [value]
