"""Contracts of the pg8000 internals core.internals.pg8000_wire drives (one test per internal it
lists in TOUCHES): each still exists with the shape and behaviour relied upon. A pg8000 upgrade
that changes one fails here, not in production."""

from __future__ import annotations

import inspect
import io
import struct
from typing import Any

import pg8000.converters
import pg8000.core
import pg8000.dbapi
import pg8000.legacy
import pg8000.native
import pytest
from pg8000.exceptions import InterfaceError

from core.internals import pg8000_wire


def _bare(cls: type) -> Any:
    """A connection object with only what statements need, no server: pg8000's __init__ sets these three."""
    connection = object.__new__(cls)
    connection._sock = io.BytesIO()
    connection._client_encoding = "utf8"
    connection.py_types = dict(pg8000.converters.PY_TYPES)
    return connection


class _NoAnswers(pg8000.core.CoreConnection):
    """Records what a statement writes; reads nothing back."""

    def handle_messages(self, context: Any) -> None:
        pass


def _messages(data: bytes) -> list[tuple[bytes, bytes]]:
    messages, at = [], 0
    while at < len(data):
        code, length = data[at : at + 1], struct.unpack("!i", data[at + 1 : at + 5])[0]
        messages.append((code, data[at + 5 : at + 1 + length]))
        at += 1 + length
    return messages


STATEMENTS = [
    ("SELECT CAST(%s AS int) + 1, %s, %s", (41, None, "café"), ()),
    ("SELECT $1::uuid, $2", ("00000000-0000-0000-0000-000000000007", 2.5), (2950, -1)),
    ("commit", (), ()),
]


@pytest.mark.parametrize(("statement", "vals", "oids"), STATEMENTS)
def test_execute_unnamed_in_one_flight_sends_pg8000s_own_messages(statement: str, vals: Any, oids: Any) -> None:
    """pg8000.core.CoreConnection.execute_unnamed, overridden: the same Parse, Describe, Bind and
    Execute bytes pg8000 writes, without the Syncs and Flushes between them, then one Sync."""
    theirs = _bare(_NoAnswers)
    theirs.execute_unnamed(statement, vals=vals, oids=oids)
    ours = _bare(pg8000_wire.one_flight(_NoAnswers))
    context = ours.execute_unnamed(statement, vals=vals, oids=oids)

    expected = [m for m in _messages(theirs._sock.getvalue()) if m[0] not in (b"S", b"H")] + [(b"S", b"")]
    assert _messages(ours._sock.getvalue()) == expected
    assert [code for code, _ in expected] == [b"P", b"D", b"B", b"E", b"S"]
    assert isinstance(context, pg8000.core.Context) and context.statement == statement


def test_execute_unnamed_keeps_its_signature_and_callers() -> None:
    """The DB-API cursors and native.Connection.run call execute_unnamed with these keywords."""
    parameters = inspect.signature(pg8000.core.CoreConnection.execute_unnamed).parameters
    assert [(p.name, p.default) for p in parameters.values()] == [
        ("self", inspect.Parameter.empty),
        ("statement", inspect.Parameter.empty),
        ("vals", ()),
        ("oids", ()),
        ("stream", None),
    ]
    for caller in (pg8000.legacy.Cursor.execute, pg8000.dbapi.Cursor.execute, pg8000.native.Connection.run):
        assert "execute_unnamed" in caller.__code__.co_names, caller
    assert issubclass(pg8000.legacy.Connection, pg8000.core.CoreConnection)
    assert issubclass(pg8000.native.Connection, pg8000.core.CoreConnection)


def test_send_message_writes_one_message_and_refuses_a_closed_connection() -> None:
    """pg8000.core.CoreConnection._send_message(code, data)."""
    connection = _bare(pg8000.core.CoreConnection)
    connection._send_message(b"Q", b"x\x00")
    assert connection._sock.getvalue() == b"Q\x00\x00\x00\x06x\x00"
    connection._sock = None  # what close() leaves
    with pytest.raises(InterfaceError):
        connection._send_message(pg8000.core.PARSE, b"")


def test_handle_messages_reads_answers_into_a_context() -> None:
    """pg8000.core.CoreConnection.handle_messages(context): answers up to ReadyForQuery; an error raised after."""
    assert list(inspect.signature(pg8000.core.CoreConnection.handle_messages).parameters) == ["self", "context"]
    source = inspect.getsource(pg8000.core.CoreConnection.handle_messages)
    assert "READY_FOR_QUERY" in source and "context.error" in source


@pytest.mark.parametrize(
    ("internal", "assignment"),
    [
        ("pg8000.core.CoreConnection._sock", "self._sock = "),
        ("pg8000.core.CoreConnection._client_encoding", "self._client_encoding = "),
        ("pg8000.core.CoreConnection.py_types", "self.py_types = dict(PY_TYPES)"),
    ],
)
def test_connection_attributes_are_set_when_it_connects(internal: str, assignment: str) -> None:
    assert assignment in inspect.getsource(pg8000.core.CoreConnection.__init__), internal


def test_write_and_flush_turn_network_errors_into_interface_errors() -> None:
    """pg8000.core._write and pg8000.core._flush."""

    class Broken:
        def write(self, data: bytes) -> None:
            raise BrokenPipeError

        def flush(self) -> None:
            raise ConnectionResetError

    sock = io.BytesIO()
    pg8000.core._write(sock, b"abc")
    pg8000.core._flush(sock)
    assert sock.getvalue() == b"abc"
    with pytest.raises(InterfaceError):
        pg8000.core._write(Broken(), b"abc")
    with pytest.raises(InterfaceError):
        pg8000.core._flush(Broken())


def test_context_starts_empty() -> None:
    """pg8000.core.Context(statement)."""
    context = pg8000.core.Context("SELECT 1")
    assert (context.statement, context.error, context.row_count) == ("SELECT 1", None, -1)


def test_protocol_constants_and_packers() -> None:
    """pg8000.core.PARSE, DESCRIBE, BIND, NULL_BYTE, EXECUTE_MSG, SYNC_MSG, H_pack, i_pack."""
    core = pg8000.core
    assert (core.PARSE, core.DESCRIBE, core.BIND, core.NULL_BYTE) == (b"P", b"D", b"B", b"\x00")
    assert b"E" + struct.pack("!i", 9) + b"\x00" + struct.pack("!i", 0) == core.EXECUTE_MSG
    assert b"S" + struct.pack("!i", 4) == core.SYNC_MSG
    assert (core.H_pack(2), core.i_pack(-1)) == (b"\x00\x02", b"\xff\xff\xff\xff")


def test_make_params_sends_every_value_as_text() -> None:
    """pg8000.converters.make_params(py_types, values)."""
    params = pg8000.converters.make_params(dict(pg8000.converters.PY_TYPES), (41, None, "x", True))
    assert params == ("41", None, "x", "true")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("infinity", "infinity"), ("-infinity", "-infinity"), ("2026-11-23 12:00:00.5+00", None)],
)
def test_pg8000s_timestamptz_parser_reads_what_fromisoformat_cannot(text: str, expected: Any) -> None:
    """pg8000.converters.timestamptz_in, the fast parser's fallback."""
    from datetime import datetime

    parsed = pg8000_wire.pg8000_timestamptz_in(text)
    assert parsed == (expected if expected is not None else datetime.fromisoformat(text))
    assert pg8000.converters.timestamptz_in is pg8000.converters.PG_TYPES[1184]  # the parser pg8000 registers


@pytest.mark.parametrize(
    "query",
    [
        "SELECT a FROM t WHERE b = %s AND c = %s",
        "SELECT '%%s literal', $$x$$ FROM t WHERE a = %s -- %s in a comment\nAND b = %s",
        "SELECT \"we%sird\" FROM t WHERE e = E'it''s %s' AND f = %s",
    ],
)
def test_memoized_paramstyle_conversion_matches_pg8000(query: str) -> None:
    """pg8000.legacy.convert_paramstyle, replaced by pg8000.dbapi.convert_paramstyle memoized."""
    pg8000_wire.memoize_paramstyle_conversion()
    assert getattr(pg8000.legacy.convert_paramstyle, "memoized", False)
    args = (1, 2, 3)
    assert pg8000.legacy.convert_paramstyle("format", query, args) == pg8000.dbapi.convert_paramstyle(
        "format", query, args
    )
    named = pg8000.legacy.convert_paramstyle("named", "SELECT :a, :b, :a", {"a": 1, "b": 2})
    assert named == pg8000.dbapi.convert_paramstyle("named", "SELECT :a, :b, :a", {"a": 1, "b": 2})


def test_the_cursor_sqlalchemy_uses_looks_the_conversion_up_on_every_execute() -> None:
    """pg8000.legacy.convert_paramstyle is a module global the legacy cursor reads at each execute,
    with SQLAlchemy's paramstyle, positional: so the memoized one is the one that runs."""
    from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

    assert list(inspect.signature(pg8000.dbapi.convert_paramstyle).parameters) == ["style", "query", "args"]
    assert "convert_paramstyle" in pg8000.legacy.Cursor.execute.__code__.co_names
    assert PGDialect_pg8000.import_dbapi().Connection is pg8000.legacy.Connection
    assert PGDialect_pg8000.default_paramstyle == "format"
