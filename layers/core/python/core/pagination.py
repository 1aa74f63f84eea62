"""Keyset cursors: opaque to clients, strictly checked when they come back.

A cursor is the position after the last row of a page (the ordering key of
that row). It is not secret: any position is one a client could reach by
paging, so strict decoding (version, list scope, key types) is what stops a
tampered cursor, which answers 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

from pydantic import BaseModel, Field

from core.errors import BadRequest

T = TypeVar("T")
SelectT = TypeVar("SelectT")  # a select() of any row shape, given back with its type
_VERSION = 1
_ENCODERS: dict[type, str] = {datetime: "dt", UUID: "uuid", int: "int", str: "str"}

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(default=None, description="Opaque; pass as ?cursor= for the next page")


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    raise TypeError(f"cursor values must be datetime, UUID, int or str, not {type(value).__name__}")


def encode_cursor(scope: str, key: tuple[Any, ...]) -> str:
    payload = {"v": _VERSION, "s": scope, "k": [_encode_value(v) for v in key]}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_value(raw: Any, kind: type) -> Any:
    if kind is datetime:
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError("naive time")
        return value
    if kind is UUID:
        return UUID(raw)
    if kind is int and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind is str and isinstance(raw, str):
        return raw
    raise ValueError("wrong type")


def decode_cursor(scope: str, cursor: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    """The key a cursor holds, or BadRequest for anything we did not issue for this list."""
    try:
        if len(cursor) > 512:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(payload, dict) or payload.get("v") != _VERSION or payload.get("s") != scope:
            raise ValueError("not ours")
        key = payload.get("k")
        if not isinstance(key, list) or len(key) != len(types):
            raise ValueError("bad key")
        return tuple(_decode_value(raw, kind) for raw, kind in zip(key, types, strict=True))
    except (ValueError, TypeError, UnicodeError, binascii.Error, json.JSONDecodeError) as exc:
        raise BadRequest(
            "Invalid cursor", details=[{"field": "cursor", "in": "query", "message": "tampered or expired cursor"}]
        ) from exc


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
