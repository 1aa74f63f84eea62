"""Rooms themselves: create (the creator is master), list mine, read, settings (admin+), delete (master)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.models.rooms import Room, RoomMember
from core.pagination import keyset, page_of
from rooms import ai
from rooms.access import ROOM_COLUMNS, RoomView, room_for

SCOPE = "rooms"


def create(session: Session, user_id: uuid.UUID, name: str, description: str) -> RoomView:
    room = Room(id=uuid.uuid4(), name=name, description=description)
    session.add(room)
    session.flush()
    session.add(RoomMember(room_id=room.id, user_id=user_id, role="master"))
    session.flush()
    return room_for(session, room.id, user_id)


def mine(session: Session, user_id: uuid.UUID, limit: int, cursor: str | None) -> tuple[list[RoomView], str | None]:
    """Rooms I belong to, the most recently joined first."""
    query = (
        select(*ROOM_COLUMNS, RoomMember.role, RoomMember.joined_at)
        .join(RoomMember, RoomMember.room_id == Room.id)
        .where(RoomMember.user_id == user_id, Room.deleted_at.is_(None))
    )
    query = keyset(query, (RoomMember.joined_at, RoomMember.room_id), SCOPE, cursor, limit)
    rows, next_cursor = page_of(list(session.execute(query).all()), limit, SCOPE, lambda r: (r.joined_at, r.id))
    return [RoomView.of(r) for r in rows], next_cursor


def get(session: Session, room_id: uuid.UUID, user_id: uuid.UUID) -> RoomView:
    return room_for(session, room_id, user_id)


def _check_ai_choice(changes: dict[str, Any]) -> None:
    details = []
    provider = changes.get("ai_provider")
    if provider is not None and not ai.is_configured(provider):
        details.append(
            {"field": "ai_provider", "in": "body", "message": "not configured on this deployment", "type": "value"}
        )
    model = changes.get("ai_model")
    allowed = ai.allowed_models()
    if model is not None and allowed and model not in allowed:
        details.append({"field": "ai_model", "in": "body", "message": f"one of {', '.join(allowed)}", "type": "value"})
    if details:  # the deployment's configuration, which no request schema can state: a conflict, not a 422
        raise Conflict("Not available on this deployment", details=details)


def update_settings(session: Session, room_id: uuid.UUID, user_id: uuid.UUID, changes: dict[str, Any]) -> RoomView:
    """Admin+. `changes` holds only the fields sent (None resets an ai_* field to the default)."""
    room_for(session, room_id, user_id, at_least="admin")
    _check_ai_choice(changes)
    if changes:
        session.execute(
            update(Room).where(Room.id == room_id, Room.deleted_at.is_(None)).values(**changes, updated_at=func.now())
        )
    return room_for(session, room_id, user_id)


def delete(session: Session, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Master only. A soft delete: the room answers 404 from now on, its rows stay."""
    room_for(session, room_id, user_id, at_least="master")
    deleted = session.execute(
        update(Room)
        .where(Room.id == room_id, Room.deleted_at.is_(None))
        .values(deleted_at=func.now())
        .returning(Room.id)
    ).first()
    if deleted is None:
        raise NotFound("Room not found")
