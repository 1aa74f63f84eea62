"""Room messages as the functions read and announce them: the columns every answer needs, the view,
its API shape (core.message_schemas.MessageOut) and its room event.

In the core layer because two functions write messages: rooms (every message route) and the
ai_worker (an AI reply's text and its end, core.ai_replies).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, or_, select

from core.lazy import lazy_module
from core.message_schemas import MessageOut
from core.models.rooms import message_table
from core.models.user import user_table
from core.room_images import MessageImage, images_column, parse

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from core import room_events
else:
    room_events = lazy_module("core.room_events")  # reads publish nothing


@dataclass(frozen=True)
class MessageView:
    id: uuid.UUID
    room_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID | None
    sender_username: str | None
    sender_avatar_url: str | None
    kind: str
    content: str
    status: str
    visibility: str
    requester_id: uuid.UUID | None
    exclude_from_ai: bool
    reply_to_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    pending_until: datetime | None = None
    images: tuple[MessageImage, ...] = ()  # core.room_images: in position order

    @classmethod
    def of(cls, row: Any) -> MessageView:
        return cls(
            id=row.id,
            room_id=row.room_id,
            seq=row.seq,
            sender_id=row.sender_id,
            sender_username=row.username,
            sender_avatar_url=row.avatar_url,
            kind=row.kind,
            content=row.content,
            status=row.status,
            visibility=row.visibility,
            requester_id=row.requester_id,
            exclude_from_ai=row.exclude_from_ai,
            reply_to_id=row.reply_to_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            pending_until=row.pending_until,
            images=parse(getattr(row, "images", None)),
        )

    def overdue(self, now: datetime | None = None) -> bool:
        """A pending AI reply past its deadline: it counts as failed (core.ai_replies.settle)."""
        return (
            self.status == "pending"
            and self.pending_until is not None
            and self.pending_until <= (now or datetime.now(UTC))
        )

    def as_seen(self, now: datetime | None = None) -> MessageView:
        """What a reader is shown: an overdue pending reply is failed (for reads that write nothing)."""
        return replace(self, status="failed", pending_until=None) if self.overdue(now) else self


_m = message_table.c
MESSAGE_COLUMNS = (
    _m.id,
    _m.room_id,
    _m.seq,
    _m.sender_id,
    _m.kind,
    _m.content,
    _m.status,
    _m.visibility,
    _m.requester_id,
    _m.exclude_from_ai,
    _m.reply_to_id,
    _m.created_at,
    _m.updated_at,
    _m.pending_until,
    user_table.c.username,
    user_table.c.avatar_url,
    images_column(),
)


def visible_to(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Not deleted, and public or the caller's own private exchange."""
    return _m.deleted_at.is_(None) & or_(_m.visibility == "public", _m.requester_id == user_id)


def with_sender(*columns: Any) -> Select[Any]:
    """SELECT these columns FROM messages LEFT JOIN users (its sender; none for an AI message)."""
    return select(*columns).select_from(message_table).outerjoin(user_table, user_table.c.id == _m.sender_id)


def load(session: Connection, message_id: uuid.UUID) -> MessageView:
    row = session.execute(with_sender(*MESSAGE_COLUMNS).where(_m.id == message_id)).one()
    return MessageView.of(row)


def audience(visibility: str, requester_id: uuid.UUID | None) -> uuid.UUID | None:
    """The one user a message's events go to (a private message, both halves of a private AI
    exchange); None: every member."""
    return requester_id if visibility == "private" else None


def publish(session: Connection, type: str, view: MessageView) -> None:
    """message.created / message.updated / message.completed, in the change's transaction."""
    data = MessageOut.of(view, urls=False).model_dump(mode="json")
    room_events.publish(
        session, view.room_id, type, data, seq=view.seq, only=audience(view.visibility, view.requester_id)
    )
