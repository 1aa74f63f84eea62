"""Rooms themselves: create (the creator is master), list mine, read, settings (admin+), delete (master)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, select, true, update
from sqlalchemy.orm import Session

from core.ai_replies import AiRepliesSettings
from core.errors import Conflict, NotFound
from core.orm.rooms import Message, Room, RoomMember
from core.orm.user import User
from core.pagination import keyset, page_of
from rooms import events
from rooms.access import ROOM_COLUMNS, RoomView, room_for
from rooms.messages import MESSAGE_COLUMNS, MessageView, visible_to
from rooms.schemas import UNREAD_CAP
from rooms.settings import RoomsSettings

SCOPE = "rooms"


def create(session: Session, user_id: uuid.UUID, name: str, description: str) -> RoomView:
    room = Room(id=uuid.uuid4(), name=name, description=description)
    session.add(room)
    session.flush()
    session.add(RoomMember(room_id=room.id, user_id=user_id, role="master"))
    session.flush()
    return room_for(session, room.id, user_id)


@dataclass(frozen=True)
class ListedRoom:
    """A room in my list: the room, where I stopped reading, and what came since."""

    room: RoomView
    last_read_seq: int
    unread_count: int
    last_message: MessageView | None


def mine(
    connection: Connection | Session, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[ListedRoom], str | None]:
    """Rooms I belong to, the most recently joined first, each with its unread count and newest
    message, in one statement: the page first, then two LATERAL subqueries per room of the page
    (each a range of the (room_id, seq) index), so a page of 100 costs what a page of 1 does."""
    page = keyset(
        select(*ROOM_COLUMNS, RoomMember.role, RoomMember.joined_at, RoomMember.last_read_seq)
        .join(RoomMember, RoomMember.room_id == Room.id)
        .where(RoomMember.user_id == user_id, Room.deleted_at.is_(None)),
        (RoomMember.joined_at, RoomMember.room_id),
        SCOPE,
        cursor,
        limit,
    ).subquery("page")
    unread_rows = (
        select(Message.seq)
        .where(
            Message.room_id == page.c.id,
            Message.seq > page.c.last_read_seq,
            visible_to(user_id),
            Message.sender_id.is_distinct_from(user_id),  # what I sent myself is read
        )
        .limit(UNREAD_CAP)
        .correlate(page)
        .subquery("unread_rows")
    )
    unread = select(func.count(unread_rows.c.seq).label("n")).select_from(unread_rows).lateral("unread")
    last = (
        select(*(column.label(f"last_{column.key}") for column in MESSAGE_COLUMNS))
        .outerjoin(User, User.id == Message.sender_id)
        .where(Message.room_id == page.c.id, visible_to(user_id))
        .order_by(Message.seq.desc())
        .limit(1)
        .lateral("last_message")
    )
    query = (
        select(page, unread.c.n.label("unread_count"), *last.c)
        .select_from(page)
        .join(unread, true())
        .outerjoin(last, true())
        .order_by(page.c.joined_at.desc(), page.c.id.desc())
    )
    rows, next_cursor = page_of(list(connection.execute(query).all()), limit, SCOPE, lambda r: (r.joined_at, r.id))
    return [_listed(r) for r in rows], next_cursor


def _listed(row: Any) -> ListedRoom:
    last = None
    if row.last_id is not None:
        # A read-only list: an AI reply past its deadline is shown failed (reading it fails it for good).
        last = MessageView.of(
            SimpleNamespace(**{column.key: getattr(row, f"last_{column.key}") for column in MESSAGE_COLUMNS})
        ).as_seen()
    return ListedRoom(RoomView.of(row), row.last_read_seq, row.unread_count, last)


def get(session: Session, room_id: uuid.UUID, user_id: uuid.UUID) -> RoomView:
    return room_for(session, room_id, user_id)


def _is_configured(provider: str) -> bool:
    """Whether a room may choose this provider here (openai needs a base URL)."""
    return provider != "openai" or bool(AiRepliesSettings.current().openai_base_url)


def _allowed_models() -> tuple[str, ...]:
    """Models a room may choose; empty means any (locally). In the cloud IAM allows only these."""
    return tuple(m.strip() for m in RoomsSettings.current().rooms_ai_models.split(",") if m.strip())


def _check_ai_choice(changes: dict[str, Any]) -> None:
    details = []
    provider = changes.get("ai_provider")
    if provider is not None and not _is_configured(provider):
        details.append(
            {"field": "ai_provider", "in": "body", "message": "not configured on this deployment", "type": "value"}
        )
    model = changes.get("ai_model")
    allowed = _allowed_models()
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
    room = room_for(session, room_id, user_id)
    if changes:
        events.room_updated(session, room)
    return room


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
    events.room_deleted(session, room_id)
