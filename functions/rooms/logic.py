"""Rooms themselves: create (the creator is master), list mine, read, settings (admin+), delete (master)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, true, update

from core.errors import Conflict, NotFound
from core.lazy import lazy_module
from core.models.rooms import message_table, room_member_table, room_table
from core.pagination import keyset, page_of
from core.room_access import ROOM_COLUMNS, RoomView, room_for
from core.room_messages import MESSAGE_COLUMNS, MessageView, visible_to, with_sender
from rooms import scopes
from rooms.schemas import UNREAD_CAP

if TYPE_CHECKING:
    from core import context_summaries
    from rooms import events
else:
    events = lazy_module("rooms.events")  # only a change publishes one
    context_summaries = lazy_module("core.context_summaries")  # only GET /rooms/{id} reads one

SCOPE = scopes.ROOMS


def create(session: Connection, user_id: uuid.UUID, name: str, description: str) -> RoomView:
    room_id = uuid.uuid4()
    session.execute(insert(room_table).values(id=room_id, name=name, description=description))
    session.execute(insert(room_member_table).values(room_id=room_id, user_id=user_id, role="master"))
    return room_for(session, room_id, user_id)


@dataclass(frozen=True)
class ListedRoom:
    """A room in my list: the room, where I stopped reading, and what came since."""

    room: RoomView
    last_read_seq: int
    unread_count: int
    last_message: MessageView | None


def mine(
    connection: Connection, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[ListedRoom], str | None]:
    """Rooms I belong to, the most recently joined first, each with its unread count and newest
    message, in one statement: the page first, then two LATERAL subqueries per room of the page
    (each a range of the (room_id, seq) index), so a page of 100 costs what a page of 1 does."""
    member = room_member_table.c
    page = keyset(
        select(*ROOM_COLUMNS, member.role, member.joined_at, member.last_read_seq)
        .join(room_member_table, member.room_id == room_table.c.id)
        .where(member.user_id == user_id, room_table.c.deleted_at.is_(None)),
        (member.joined_at, member.room_id),
        SCOPE,
        cursor,
        limit,
    ).subquery("page")
    message = message_table.c
    unread_rows = (
        select(message.seq)
        .where(
            message.room_id == page.c.id,
            message.seq > page.c.last_read_seq,
            visible_to(user_id),
            message.sender_id.is_distinct_from(user_id),  # what I sent myself is read
        )
        .limit(UNREAD_CAP)
        .correlate(page)
        .subquery("unread_rows")
    )
    unread = select(func.count(unread_rows.c.seq).label("n")).select_from(unread_rows).lateral("unread")
    last = (
        with_sender(*(column.label(f"last_{column.key}") for column in MESSAGE_COLUMNS))
        .where(message.room_id == page.c.id, visible_to(user_id))
        .order_by(message.seq.desc())
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


def get(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> RoomView:
    return room_for(session, room_id, user_id)


def shown(
    connection: Connection, room_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[RoomView, context_summaries.Summary | None]:
    """GET /rooms/{id} (read-only, core.db.read: two SELECTs): the room as I see it, and its shared-context
    summary if valid under the cutoff the first SELECT saw. Each statement sees what was committed when
    it started, as in a READ COMMITTED transaction: a cutoff moved in between is seen on the next read."""
    room = get(connection, room_id, user_id)
    return room, context_summaries.shared(connection, room.id, room.ai_context_cutoff_at)


def _is_configured(provider: str) -> bool:
    """Whether a room may choose this provider here (openai needs a base URL)."""
    from core.ai_replies import AiRepliesSettings  # only when a room's AI settings change

    return provider != "openai" or bool(AiRepliesSettings.current().openai_base_url)


def _allowed_models() -> tuple[str, ...]:
    """Models a room may choose; empty means any (locally). In the cloud IAM allows only these."""
    from rooms.settings import RoomsSettings  # only when a room's AI settings change

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


def update_settings(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID, changes: dict[str, Any]) -> RoomView:
    """Admin+. `changes` holds only the fields sent (None resets an ai_* field to the default)."""
    room_for(session, room_id, user_id, at_least="admin")
    _check_ai_choice(changes)
    if changes:
        session.execute(
            update(room_table)
            .where(room_table.c.id == room_id, room_table.c.deleted_at.is_(None))
            .values(**changes, updated_at=func.now())
        )
    room = room_for(session, room_id, user_id)
    if changes:
        events.room_updated(session, room)
    return room


def delete(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Master only. A soft delete: the room answers 404 from now on, its rows stay."""
    room_for(session, room_id, user_id, at_least="master")
    deleted = session.execute(
        update(room_table)
        .where(room_table.c.id == room_id, room_table.c.deleted_at.is_(None))
        .values(deleted_at=func.now())
        .returning(room_table.c.id)
    ).first()
    if deleted is None:
        raise NotFound("Room not found")
    events.room_deleted(session, room_id)
