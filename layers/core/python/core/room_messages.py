"""Room messages as the functions read and announce them: the columns every answer needs, the view,
its API shape (core.schemas.MessageOut) and its room event.

In the core layer because two functions write messages: rooms (every message route) and the
ai_worker (an AI reply's text and its end, core.ai_replies).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from core import room_events
from core.orm.rooms import Message
from core.orm.user import User
from core.schemas import MessageOut


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


MESSAGE_COLUMNS = (
    Message.id,
    Message.room_id,
    Message.seq,
    Message.sender_id,
    Message.kind,
    Message.content,
    Message.status,
    Message.visibility,
    Message.requester_id,
    Message.exclude_from_ai,
    Message.reply_to_id,
    Message.created_at,
    Message.updated_at,
    Message.pending_until,
    User.username,
    User.avatar_url,
)


def visible_to(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Not deleted, and public or the caller's own private exchange."""
    return Message.deleted_at.is_(None) & or_(Message.visibility == "public", Message.requester_id == user_id)


def load(session: Session, message_id: uuid.UUID) -> MessageView:
    row = session.execute(
        select(*MESSAGE_COLUMNS).outerjoin(User, User.id == Message.sender_id).where(Message.id == message_id)
    ).one()
    return MessageView.of(row)


def audience(visibility: str, requester_id: uuid.UUID | None) -> uuid.UUID | None:
    """The one user a message's events go to (a private message, both halves of a private AI
    exchange); None: every member."""
    return requester_id if visibility == "private" else None


def publish(session: Session, type: str, view: MessageView) -> None:
    """message.created / message.updated / message.completed, in the change's transaction."""
    data = MessageOut.of(view).model_dump(mode="json")
    room_events.publish(
        session, view.room_id, type, data, seq=view.seq, only=audience(view.visibility, view.requester_id)
    )
