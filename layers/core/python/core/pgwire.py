"""How we drive pg8000 on the wire: socket options, one round trip per statement, fast
timestamptz parsing and memoized placeholder rewriting. Connection policy (TLS, IAM, pooling,
retries) stays in core.db; this module only makes each connection cheaper to use."""

from __future__ import annotations

import socket
from datetime import datetime
from functools import lru_cache
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
        from pg8000.converters import timestamptz_in as parse_with_strptime

        return parse_with_strptime(data)  # infinity, BC dates, years past 9999


def tuned(connection: Any) -> Any:
    connection.register_in_adapter(TIMESTAMPTZ_OID, timestamptz_in)
    return connection


@lru_cache(maxsize=4)
def one_flight(base: Any) -> Any:
    """`base` (a pg8000 connection class) sending a statement with parameters in one round trip.

    pg8000 1.31 runs it in three: Parse+Sync, Describe+Sync, then Bind+Execute+Sync. Nothing it
    sends in Bind depends on the first two answers (every parameter goes as text, with the OIDs
    chosen before Parse), so Parse, Describe, Bind, Execute and Sync go in one write and the answers
    are read once. An error anywhere makes the server skip to Sync and answer ErrorResponse then
    ReadyForQuery, as before. COPY (a stream) keeps pg8000's own sequence.
    """
    from pg8000.converters import make_params
    from pg8000.core import (
        BIND,
        DESCRIBE,
        EXECUTE_MSG,
        NULL_BYTE,
        PARSE,
        SYNC_MSG,
        Context,
        H_pack,
        _flush,
        _write,
        i_pack,
    )

    describe_unnamed = b"S" + NULL_BYTE
    execute_sync = EXECUTE_MSG + SYNC_MSG

    class OneFlight(base):
        def execute_unnamed(self, statement: str, vals: Any = (), oids: Any = (), stream: Any = None) -> Any:
            if stream is not None:
                return super().execute_unnamed(statement, vals=vals, oids=oids, stream=stream)
            params = make_params(self.py_types, vals)  # a value it cannot send fails before anything is sent
            encoding = self._client_encoding
            parse = bytearray(NULL_BYTE)
            parse += statement.encode(encoding) + NULL_BYTE + H_pack(len(oids))
            for oid in oids:
                parse += i_pack(0 if oid == -1 else oid)
            bind = bytearray(NULL_BYTE + NULL_BYTE + H_pack(0) + H_pack(len(params)))
            for value in params:
                if value is None:
                    bind += i_pack(-1)
                else:
                    data = value.encode(encoding)
                    bind += i_pack(len(data)) + data
            bind += H_pack(0)
            self._send_message(PARSE, parse)  # raises InterfaceError once the connection is closed
            self._send_message(DESCRIBE, describe_unnamed)
            self._send_message(BIND, bind)
            _write(self._sock, execute_sync)
            _flush(self._sock)
            context = Context(statement)
            self.handle_messages(context)
            return context

    OneFlight.__name__ = OneFlight.__qualname__ = f"OneFlight{base.__name__}"
    return OneFlight


@lru_cache(maxsize=1024)
def _converted_statement(style: str, query: str) -> str:
    import pg8000.dbapi

    return str(pg8000.dbapi.convert_paramstyle(style, query, ())[0])


def memoize_paramstyle_conversion() -> None:
    """pg8000 rewrites `%s` to `$n` with a char-by-char scan on every execute (~0.2 ms for a feed
    query). For positional styles the result depends only on the statement, which SQLAlchemy
    caches anyway, so it is computed once per statement."""
    import pg8000.dbapi
    import pg8000.legacy

    original = pg8000.dbapi.convert_paramstyle
    if getattr(original, "memoized", False):
        return

    def convert(style: str, query: str, args: Any) -> tuple[str, Any]:
        if style in ("format", "qmark", "numeric"):
            return _converted_statement(style, query), args
        return original(style, query, args)  # named styles map args by name: not cached

    convert.memoized = True  # type: ignore[attr-defined]
    pg8000.legacy.convert_paramstyle = convert
