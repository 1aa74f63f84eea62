"""What the rooms tell their WebSocket subscribers (API.md, Realtime): each change's event, recorded
in the change's own transaction by core.room_events.publish and fanned out after it commits.

The bodies are the REST API's own (MessageOut, MemberOut, RoomOut without the viewer's role), so a
client renders an event exactly like the answer it would have fetched. A private message (and
both halves of a private AI exchange) goes to its requester alone.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from core import room_events, room_messages
from core.room_access import RoomView, below
from core.room_messages import MessageView
from rooms.schemas import MemberOut, RoomOut

if TYPE_CHECKING:
    from core.memberships import MemberView


def message(session: Connection, type: str, view: MessageView) -> None:
    """message.created / message.updated (the ai_worker sends message.completed the same way)."""
    room_messages.publish(session, type, view)


def message_deleted(
    session: Connection, room_id: uuid.UUID, message_id: uuid.UUID, seq: int, visibility: str, requester_id: Any
) -> None:
    data = {"id": str(message_id)}
    room_events.publish(
        session, room_id, "message.deleted", data, seq=seq, only=room_messages.audience(visibility, requester_id)
    )


def member(session: Connection, type: str, room_id: uuid.UUID, view: MemberView) -> None:
    """member.joined / member.role_changed; a role below reader loses the room's events at once."""
    room_events.publish(session, room_id, type, MemberOut.of(view).model_dump(mode="json"))
    if below(view.role, "reader"):
        room_events.drop_subscriptions(session, room_id, view.user_id)


def member_left(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The member's subscriptions go in this transaction: nothing of the room reaches them after it."""
    room_events.drop_subscriptions(session, room_id, user_id)
    room_events.publish(session, room_id, "member.left", {"user": {"id": str(user_id)}})


def room_updated(session: Connection, room: RoomView) -> None:
    data = RoomOut.of(room).model_dump(mode="json", exclude={"my_role"})  # the same for every member
    room_events.publish(session, room.id, "room.updated", data)


def room_deleted(session: Connection, room_id: uuid.UUID) -> None:
    room_events.publish(session, room_id, "room.deleted", {"id": str(room_id)})
