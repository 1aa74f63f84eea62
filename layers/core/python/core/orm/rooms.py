"""Transitional ORM classes on the Core tables of core.models.rooms (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped

from core.models.rooms import message_table, room_fork_table, room_invitation_table, room_member_table, room_table
from core.orm.base import Base

__all__ = ["Message", "Room", "RoomFork", "RoomInvitation", "RoomMember"]


class Room(Base):
    __table__ = room_table

    id: Mapped[uuid.UUID]
    name: Mapped[str]
    description: Mapped[str]
    ai_provider: Mapped[str | None]
    ai_model: Mapped[str | None]
    ai_context_cutoff_at: Mapped[datetime | None]
    last_seq: Mapped[int]
    last_event: Mapped[int]
    deleted_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    forked_from_room_id: Mapped[uuid.UUID | None]
    forked_at_seq: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoomMember(Base):
    __table__ = room_member_table

    room_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    role: Mapped[str]
    joined_at: Mapped[datetime]
    last_read_seq: Mapped[int]


class RoomInvitation(Base):
    __table__ = room_invitation_table

    id: Mapped[uuid.UUID]
    room_id: Mapped[uuid.UUID]
    token_hash: Mapped[str]
    invitee_id: Mapped[uuid.UUID | None]
    role: Mapped[str]
    created_by: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by: Mapped[uuid.UUID | None]
    declined_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Message(Base):
    __table__ = message_table

    id: Mapped[uuid.UUID]
    room_id: Mapped[uuid.UUID]
    seq: Mapped[int]
    sender_id: Mapped[uuid.UUID | None]
    kind: Mapped[str]
    content: Mapped[str]
    status: Mapped[str]
    visibility: Mapped[str]
    requester_id: Mapped[uuid.UUID | None]
    exclude_from_ai: Mapped[bool]
    reply_to_id: Mapped[uuid.UUID | None]
    deleted_at: Mapped[datetime | None]
    job_id: Mapped[uuid.UUID | None]
    pending_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoomFork(Base):
    __table__ = room_fork_table

    room_id: Mapped[uuid.UUID]
    source_room_id: Mapped[uuid.UUID | None]
    requested_by: Mapped[uuid.UUID | None]
    up_to_seq: Mapped[int]
    total: Mapped[int]
    copied: Mapped[int]
    cursor_seq: Mapped[int]
    status: Mapped[str]
    error: Mapped[str | None]
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
