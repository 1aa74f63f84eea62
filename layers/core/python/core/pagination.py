"""Keyset cursors: opaque to clients, strictly checked when they come back.

A cursor is the position after the last row of a page: a 3-byte tag of the list
(its scope) and the ordering key packed in fixed width, base64url without padding.
Every string of that exact shape is a position a client could reach by paging, so
the OpenAPI pattern of each list's `cursor` (`cursor_pattern`) says precisely which
cursors the list accepts; anything else (another list's cursor, another shape, a
truncated or padded one) answers 400. Positions are not secret, so nothing is signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar, cast
from uuid import UUID

from core.errors import BadRequest

T = TypeVar("T")
SelectT = TypeVar("SelectT")  # a select() of any row shape, given back with its type
_VERSION = b"v2"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
# Width in bytes of each key type: times as signed microseconds since 1970, ids as their 16 bytes.
_WIDTHS: dict[type, int] = {datetime: 8, UUID: 16, int: 8}
# The last character of a partial group, by the bits it carries (the rest are zero).
_LAST_CHAR = {2: "[AQgw]", 4: "[AEIMQUYcgkosw048]"}

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@cache
def _tag(scope: str) -> bytes:
    return hashlib.sha256(_VERSION + b":" + scope.encode()).digest()[:3]


@cache
def cursor_pattern(scope: str, types: tuple[type, ...]) -> str:
    """The regular expression that matches exactly the cursors of this list."""
    bits = 8 * sum(_WIDTHS[kind] for kind in types)
    full, rest = divmod(bits, 6)
    tag = base64.urlsafe_b64encode(_tag(scope)).decode()
    tail = _LAST_CHAR[rest] if rest else ""
    return f"^{tag}[A-Za-z0-9_-]{{{full}}}{tail}$"


@cache
def cursors_pattern(scopes: tuple[str, ...], types: tuple[type, ...]) -> str:
    """The regular expression that matches exactly the cursors of these lists: one path that
    serves several orders of the same key (each its own scope, so a cursor says which it continues)."""
    if len(scopes) == 1:
        return cursor_pattern(scopes[0], types)
    tags = "|".join(cursor_pattern(scope, types)[1:5] for scope in scopes)
    return f"^(?:{tags}){cursor_pattern(scopes[0], types)[5:]}"


def _pack(value: Any) -> bytes:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("cursor times must be timezone-aware")
        return struct.pack(">q", (value - _EPOCH) // _MICROSECOND)
    if isinstance(value, UUID):
        return value.bytes
    if isinstance(value, int) and not isinstance(value, bool):
        return struct.pack(">q", value)
    raise TypeError(f"cursor values must be datetime, UUID or int, not {type(value).__name__}")


def _unpack(raw: bytes, kind: type) -> Any:
    if kind is UUID:
        return UUID(bytes=raw)
    (number,) = struct.unpack(">q", raw)
    if kind is int:
        return number
    try:  # a position before or after every representable time is the start or the end
        return _EPOCH + number * _MICROSECOND
    except OverflowError:
        return _EARLIEST if number < 0 else _LATEST


def encode_cursor(scope: str, key: tuple[Any, ...]) -> str:
    raw = _tag(scope) + b"".join(_pack(value) for value in key)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(scope: str, cursor: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    """The key a cursor holds, or BadRequest for anything this list did not or could not issue."""
    try:
        if not re.fullmatch(cursor_pattern(scope, types), cursor):
            raise ValueError("not a cursor of this list")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))[3:]
        key: list[Any] = []
        for kind in types:
            width = _WIDTHS[kind]
            key.append(_unpack(raw[:width], kind))
            raw = raw[width:]
        return tuple(key)
    except (ValueError, KeyError, binascii.Error, struct.error) as exc:
        raise BadRequest(
            "Invalid cursor", details=[{"field": "cursor", "in": "query", "message": "not a cursor of this list"}]
        ) from exc


def decode_cursor_of(scopes: tuple[str, ...], cursor: str, types: tuple[type, ...]) -> tuple[str, tuple[Any, ...]]:
    """(the scope a cursor belongs to, its key), for a path serving several lists (`cursors_pattern`);
    BadRequest for anything none of them issued."""
    for scope in scopes:
        if cursor.startswith(base64.urlsafe_b64encode(_tag(scope)).decode()):
            return scope, decode_cursor(scope, cursor, types)
    return scopes[0], decode_cursor(scopes[0], cursor, types)  # raises: not a cursor of these lists


def page_of(rows: list[T], limit: int, scope: str, key: Any) -> tuple[list[T], str | None]:
    """Rows fetched with LIMIT limit+1 -> (the page, the cursor after it or None at the end)."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(scope, key(page[-1]))


def keyset(
    query: SelectT,
    columns: tuple[Any, ...],
    scope: str,
    cursor: str | None,
    limit: int,
    *,
    newest_first: bool = True,
) -> SelectT:
    """`query` ordered by `columns` (newest first, or oldest), after `cursor`, LIMIT limit+1 for page_of.

    The cursor's key types are the columns' own Python types, so a cursor of another list or
    shape answers 400.
    """
    from sqlalchemy import tuple_

    narrowed: Any = query
    if cursor:
        key = decode_cursor(scope, cursor, tuple(column.type.python_type for column in columns))
        position = tuple_(*columns)
        narrowed = narrowed.where(position < tuple_(*key) if newest_first else position > tuple_(*key))
    order = [column.desc() for column in columns] if newest_first else list(columns)
    return cast(SelectT, narrowed.order_by(*order).limit(limit + 1))
