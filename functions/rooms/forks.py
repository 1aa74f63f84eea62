"""Forking a room (issue 19.1): POST /rooms/{id}/forks makes a new room owned by the caller and a copy
job; the room_forks worker copies the conversation in batches (functions/room_forks). GET
/rooms/{id}/fork shows the job's progress.

Member+ of the source. What is copied is what the caller may read of it up to `up_to_seq`: public
messages and the caller's own private exchanges, never anyone else's private ones, nor deleted
messages. Until the copy completes the new room is archived: reads work, posting answers 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, or_, select, update

from core import db, room_forks
from core.errors import Conflict, NotFound
from core.models.room_forks import room_fork_table
from core.models.rooms import message_table, room_member_table, room_table
from core.room_access import RoomView, room_for

_fork, _message = room_fork_table.c, message_table.c


@dataclass(frozen=True)
class ForkView:
    room_id: uuid.UUID
    forked_from_room_id: uuid.UUID | None
    forked_at_seq: int
    status: str
    copied: int
    total: int
    error: str | None
    created_at: datetime
    completed_at: datetime | None
    stale: bool = False  # copying, and not moved for room_forks.STALE_S

    @classmethod
    def of(cls, row: Any) -> ForkView:
        return cls(
            row.room_id,
            row.source_room_id,
            row.up_to_seq,
            row.status,
            row.copied,
            row.total,
            row.error,
            row.created_at,
            row.completed_at,
            bool(getattr(row, "stale", False)),
        )


@dataclass(frozen=True)
class Forked:
    room: RoomView
    fork: ForkView


def copied_by(user_id: uuid.UUID) -> ColumnElement[bool]:
    """The messages a fork by `user_id` takes: not deleted; public, or the forker's own private ones."""
    return _message.deleted_at.is_(None) & or_(_message.visibility == "public", _message.requester_id == user_id)


def start(session: Connection, source_id: uuid.UUID, user_id: uuid.UUID, name: str, up_to_seq: int | None) -> Forked:
    """Member+ of the source. A seq beyond the source's newest names no message yet: 409, as for
    POST /rooms/{id}/read (a well-formed value that conflicts with the room's state, not a bad field)."""
    source = room_for(session, source_id, user_id, at_least="member")
    last_seq = session.scalar(select(room_table.c.last_seq).where(room_table.c.id == source_id)) or 0
    if up_to_seq is not None and up_to_seq > last_seq:
        detail = {
            "field": "up_to_seq",
            "in": "body",
            "message": f"the room's newest seq is {last_seq}",
            "type": "value",
        }
        raise Conflict("No message of this room has that seq yet", details=[detail])
    up_to = last_seq if up_to_seq is None else up_to_seq
    total = (
        session.scalar(
            select(func.count())
            .select_from(message_table)
            .where(_message.room_id == source_id, _message.seq <= up_to, copied_by(user_id))
        )
        or 0
    )
    room_id = uuid.uuid4()
    session.execute(
        insert(room_table).values(
            id=room_id,
            name=name,
            description=source.description,
            ai_provider=source.ai_provider,
            ai_model=source.ai_model,
            ai_context_cutoff_at=source.ai_context_cutoff_at,
            archived_at=func.now() if total else None,
            forked_from_room_id=source_id,
            forked_at_seq=up_to,
        )
    )
    session.execute(insert(room_member_table).values(room_id=room_id, user_id=user_id, role="master"))
    session.execute(
        insert(room_fork_table).values(
            room_id=room_id,
            source_room_id=source_id,
            requested_by=user_id,
            up_to_seq=up_to,
            total=total,
            cursor_seq=0,
            copied=0,
            status="copying" if total else "completed",
            completed_at=None if total else func.now(),
        )
    )
    return Forked(room_for(session, room_id, user_id), progress(session, room_id, user_id))


_FORK_COLUMNS = (
    _fork.room_id,
    _fork.source_room_id,
    _fork.up_to_seq,
    _fork.status,
    _fork.copied,
    _fork.total,
    _fork.error,
    _fork.created_at,
    _fork.completed_at,
)


def progress(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> ForkView:
    """Reader+ of the fork (the new room); a room that is no fork is 404."""
    room_for(session, room_id, user_id)
    stale = (_fork.status == "copying") & (
        _fork.updated_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, room_forks.STALE_S)
    )
    row = session.execute(select(*_FORK_COLUMNS, stale.label("stale")).where(_fork.room_id == room_id)).first()
    if row is None:
        raise NotFound("This room is not a fork")
    return ForkView.of(row)


def resend_if_stale(fork: ForkView) -> None:
    """A copy that has not moved for STALE_S lost its queue message (or its worker): queue it again,
    once per STALE_S (the job's updated_at moves with the resend). Outside the request's transaction."""
    if not fork.stale:
        return
    with db.session_scope() as session:
        touched = session.execute(
            update(room_fork_table)
            .where(_fork.room_id == fork.room_id, _fork.status == "copying")
            .values(updated_at=func.now())
            .returning(_fork.room_id)
        ).first()
    if touched is not None:
        room_forks.enqueue(fork.room_id)
