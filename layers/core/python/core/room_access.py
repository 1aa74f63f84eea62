"""Who may do what in a room: the role order, and the one lookup every room route starts with.

In the core layer because two functions apply the same rule: rooms (every room route) and
realtime (subscribing to a room, typing in it).

A room that does not exist, is deleted, or that the caller is not a member of
is the same 404, so a room's existence never leaks. Being a member with too
low a role is a 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from core.errors import Conflict, Forbidden, NotFound
from core.models.rooms import ROLES, room_member_table, room_table

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

RANK = {role: rank for rank, role in enumerate(ROLES)}

# The room columns every answer needs (plain columns: no ORM entities on the hot path).
ROOM_COLUMNS = (
    room_table.c.id,
    room_table.c.name,
    room_table.c.description,
    room_table.c.ai_provider,
    room_table.c.ai_model,
    room_table.c.ai_context_cutoff_at,
    room_table.c.created_at,
    room_table.c.archived_at,
    room_table.c.forked_from_room_id,
    room_table.c.forked_at_seq,
)


def rank(role: str) -> int:
    return RANK[role]


def below(role: str, other: str) -> bool:
    """True when `role` is strictly lower than `other`."""
    return RANK[role] < RANK[other]


@dataclass(frozen=True)
class RoomView:
    """A room as one member sees it."""

    id: uuid.UUID
    name: str
    description: str
    ai_provider: str | None
    ai_model: str | None
    ai_context_cutoff_at: datetime | None
    created_at: datetime
    my_role: str
    archived: bool = False  # read-only: a fork still being copied
    forked_from_room_id: uuid.UUID | None = None
    forked_at_seq: int | None = None

    @classmethod
    def of(cls, row: Any) -> RoomView:
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            ai_provider=row.ai_provider,
            ai_model=row.ai_model,
            ai_context_cutoff_at=row.ai_context_cutoff_at,
            created_at=row.created_at,
            my_role=row.role,
            archived=row.archived_at is not None,
            forked_from_room_id=row.forked_from_room_id,
            forked_at_seq=row.forked_at_seq,
        )

    def at_least(self, role: str) -> bool:
        return RANK[self.my_role] >= RANK[role]


def room_for(
    session: Connection, room_id: uuid.UUID, user_id: uuid.UUID, *, at_least: str = "reader", lock: bool = False
) -> RoomView:
    """The room as `user_id` sees it, if they hold `at_least`; one statement.

    `lock` takes a share lock on the caller's membership row, so their role cannot
    change under a management action until it commits.
    """
    query = (
        select(*ROOM_COLUMNS, room_member_table.c.role)
        .join(
            room_member_table,
            and_(room_member_table.c.room_id == room_table.c.id, room_member_table.c.user_id == user_id),
        )
        .where(room_table.c.id == room_id, room_table.c.deleted_at.is_(None))
    )
    if lock:
        query = query.with_for_update(read=True, of=room_member_table)
    row = session.execute(query).first()
    if row is None:
        raise NotFound("Room not found")
    view = RoomView.of(row)
    if not view.at_least(at_least):
        raise Forbidden(f"This needs the {at_least} role or higher in the room")
    return view


def writable(room: RoomView) -> RoomView:
    """An archived room (a fork whose conversation is still being copied) is read-only: 409."""
    if room.archived:
        raise Conflict("This room is archived (read-only) until its fork's copy completes: GET /rooms/{room_id}/fork")
    return room
