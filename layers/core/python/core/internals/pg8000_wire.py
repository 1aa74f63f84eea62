"""pg8000's private internals, driven for speed: the only module that touches them.

Written against pg8000 1.31.6 (`WRITTEN_AGAINST`, pinned in layers/deps/requirements.txt);
tests/unit/internals/test_pg8000_contract.py checks each internal below.

- `one_flight`: a statement with parameters in one round trip instead of three. It overrides
  `CoreConnection.execute_unnamed(statement, vals=(), oids=(), stream=None)` (what the DB-API
  cursor and `native.Connection.run` call) and builds the messages pg8000's `send_PARSE`,
  `send_DESCRIBE_STATEMENT`, `send_BIND` and `send_EXECUTE` would, from `pg8000.core`'s
  `PARSE`, `DESCRIBE`, `BIND`, `NULL_BYTE`, `EXECUTE_MSG`, `SYNC_MSG`, `H_pack`, `i_pack` and
  `pg8000.converters.make_params(py_types, values)`; it writes them with the connection's
  `_send_message(code, data)` (raises InterfaceError once closed), `_write`/`_flush` on `_sock`,
  encodes with `_client_encoding` and reads the answers with `handle_messages(Context(statement))`.
- `pg8000_timestamptz_in`: pg8000's own parser, `pg8000.converters.timestamptz_in`, the fallback
  of core.pgwire's fast one for what `datetime.fromisoformat` cannot read (infinity, BC dates).
- `memoize_paramstyle_conversion`: `pg8000.legacy.convert_paramstyle`, the module global the
  DB-API cursor (SQLAlchemy's pg8000 dialect, paramstyle "format") looks up on every execute, is
  replaced by a memoized `pg8000.dbapi.convert_paramstyle(style, query, args)` for positional
  styles.

Nothing here imports pg8000 at import time (the authorizer's cold start).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

LIBRARY = "pg8000"
WRITTEN_AGAINST = "1.31.6"

TOUCHES = {
    "pg8000.core.CoreConnection.execute_unnamed": "overridden: one flight instead of three round trips",
    "pg8000.core.CoreConnection._send_message": "writes each message; raises InterfaceError once closed",
    "pg8000.core.CoreConnection.handle_messages": "reads the answers up to ReadyForQuery",
    "pg8000.core.CoreConnection._sock": "the buffered socket file the protocol is written to (set in __init__)",
    "pg8000.core.CoreConnection._client_encoding": "the encoding of statements and parameters (set in __init__)",
    "pg8000.core.CoreConnection.py_types": "the parameter converters make_params uses (set in __init__)",
    "pg8000.core._write": "writes bytes to _sock, network errors as InterfaceError",
    "pg8000.core._flush": "flushes _sock, network errors as InterfaceError",
    "pg8000.core.Context": "the result of a statement, filled by handle_messages",
    "pg8000.core.PARSE": "message code",
    "pg8000.core.DESCRIBE": "message code",
    "pg8000.core.BIND": "message code",
    "pg8000.core.NULL_BYTE": "string terminator",
    "pg8000.core.EXECUTE_MSG": "Execute of the unnamed portal, no row limit",
    "pg8000.core.SYNC_MSG": "Sync",
    "pg8000.core.H_pack": "int16 packer",
    "pg8000.core.i_pack": "int32 packer",
    "pg8000.converters.make_params": "parameters as text, as pg8000 sends them",
    "pg8000.converters.timestamptz_in": "pg8000's timestamptz parser, the fast parser's fallback",
    "pg8000.legacy.convert_paramstyle": "replaced: the memoized placeholder rewrite",
    "pg8000.dbapi.convert_paramstyle": "the rewrite itself, memoized per statement",
}


def pg8000_timestamptz_in(data: str) -> Any:
    """pg8000's own timestamptz parser (strptime; also reads infinity and BC dates)."""
    from pg8000.converters import timestamptz_in

    return timestamptz_in(data)


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

    if getattr(pg8000.legacy.convert_paramstyle, "memoized", False):
        return
    original = pg8000.dbapi.convert_paramstyle

    def convert(style: str, query: str, args: Any) -> tuple[str, Any]:
        if style in ("format", "qmark", "numeric"):
            return _converted_statement(style, query), args
        return original(style, query, args)  # named styles map args by name: not cached

    convert.memoized = True  # type: ignore[attr-defined]
    pg8000.legacy.convert_paramstyle = convert
