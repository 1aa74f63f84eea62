"""How we drive pg8000 on the wire through its public API: socket options and fast timestamptz
parsing. Connection policy (TLS, IAM, pooling, retries) stays in core.db; this module only makes
each connection cheaper to use. What needs pg8000's internals (one round trip per statement, the
memoized placeholder rewrite, pg8000's own parser) is in core.internals.pg8000_wire."""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any


def open_socket(host: str, port: int, timeout: float, io_timeout: float | None = None) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(io_timeout or timeout)
    # Without this pg8000's small writes wait on delayed ACKs (~40 ms per new TLS connection).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


TIMESTAMPTZ_OID = 1184


def timestamptz_in(data: str) -> Any:
    """pg8000 parses timestamptz with strptime (~8 us each, 40 per page of posts); this is ~0.1 us."""
    try:
        return datetime.fromisoformat(data)
    except ValueError:
        from core.internals.pg8000_wire import pg8000_timestamptz_in

        return pg8000_timestamptz_in(data)  # infinity, BC dates, years past 9999


def tuned(connection: Any) -> Any:
    connection.register_in_adapter(TIMESTAMPTZ_OID, timestamptz_in)
    return connection
