"""A space's byte counters and quota: every change is one conditional UPDATE of the space's row.

PostgreSQL re-evaluates an UPDATE's WHERE on the newest version of a row another transaction
changed meanwhile (READ COMMITTED), so each conditional UPDATE checks the quota against every
committed change before it and holds the row until its own commit: concurrent uploads queue on
the row and cannot overshoot. Never read-then-write.

- a single upload counts in used_bytes from its start: its exact size is signed into the URL;
- a multipart upload reserves its declared size at its start (reserved_bytes) and, when it
  completes, moves to used_bytes with its actual size if used_bytes stays within the quota (the
  check again at completion; else the upload is refused and forgotten);
- abort, delete and moving out give the bytes back; moving in counts like a start.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.engine import Row

from core.errors import NotFound, PayloadTooLarge
from core.models.spaces import space_table

QUOTA_EXCEEDED = "quota_exceeded"


def exceeded(keep_writes: bool = False) -> PayloadTooLarge:
    return PayloadTooLarge("Over the space's quota", code=QUOTA_EXCEEDED, keep_writes=keep_writes)


def take(session: Connection, space_id: uuid.UUID, size: int, *, multipart: bool) -> None:
    """Count `size` new bytes in the space (used, or reserved for a multipart upload), if the quota
    allows it; else 413 quota_exceeded."""
    column = space_table.c.reserved_bytes if multipart else space_table.c.used_bytes
    taken = session.execute(
        update(space_table)
        .where(
            space_table.c.id == space_id,
            or_(
                space_table.c.quota_bytes.is_(None),
                space_table.c.used_bytes + space_table.c.reserved_bytes + size <= space_table.c.quota_bytes,
            ),
        )
        .values({column: column + size})
        .returning(space_table.c.id)
    ).first()
    if taken is None:
        _missing_or_exceeded(session, space_id)


def settle(session: Connection, space_id: uuid.UUID, declared: int, actual: int) -> bool:
    """A multipart upload completed: its reservation becomes `actual` stored bytes, if the space's
    stored bytes stay within the quota with them. False (and the reservation released) if not."""
    settled = session.execute(
        update(space_table)
        .where(
            space_table.c.id == space_id,
            or_(space_table.c.quota_bytes.is_(None), space_table.c.used_bytes + actual <= space_table.c.quota_bytes),
        )
        .values(used_bytes=space_table.c.used_bytes + actual, reserved_bytes=space_table.c.reserved_bytes - declared)
        .returning(space_table.c.id)
    ).first()
    if settled is None:
        give_back(session, space_id, declared, multipart=True)
        return False
    return True


def give_back(session: Connection, space_id: uuid.UUID, size: int, *, multipart: bool) -> None:
    column = space_table.c.reserved_bytes if multipart else space_table.c.used_bytes
    session.execute(update(space_table).where(space_table.c.id == space_id).values({column: column - size}))


def release(session: Connection, asset: Row[Any]) -> None:
    """The asset leaves its space (deleted, aborted, moved out): its bytes are given back."""
    if asset.space_id is not None:
        give_back(session, asset.space_id, asset.size, multipart=asset.upload_id is not None)


def _missing_or_exceeded(session: Connection, space_id: uuid.UUID) -> None:
    # deleted since the caller's role was checked
    if session.execute(select(space_table.c.id).where(space_table.c.id == space_id)).first() is None:
        raise NotFound("Space not found")
    raise exceeded()
