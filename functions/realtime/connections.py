"""Connections and their subscriptions, as rows: plain functions of a session.

A connection belongs to the user whose ticket opened it and lives at most CONNECTION_TTL
(API Gateway closes every WebSocket after 2 hours). Subscribing needs reader+ in the room and
typing guest+, by the rooms' own rule (core.room_access.room_for: not a member, or a deleted
room, is the same 404). Typing is throttled per user and room by one conditional upsert, so it
holds across Lambda containers: at most one typing event per TYPING_EVERY_S.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from core.errors import Unauthorized
from core.models.realtime import realtime_connection_table, realtime_subscription_table
from core.models.user import user_table
from core.room_access import RoomView, room_for

CONNECTION_TTL = timedelta(hours=2)  # API Gateway's maximum connection duration
TYPING_EVERY_S = 3


@dataclass(frozen=True)
class Owner:
    user_id: uuid.UUID
    username: str


def open_connection(
    session: Connection, connection_id: str, user_id: uuid.UUID, session_id: uuid.UUID, connected_at: datetime
) -> None:
    session.execute(
        insert(realtime_connection_table).values(
            connection_id=connection_id,
            user_id=user_id,
            session_id=session_id,
            connected_at=connected_at,
            expires_at=connected_at + CONNECTION_TTL,
        )
    )


def close_connection(session: Connection, connection_id: str) -> None:
    """Its subscriptions go with it (ON DELETE CASCADE)."""
    connections = realtime_connection_table
    session.execute(delete(connections).where(connections.c.connection_id == connection_id))


def owner(session: Connection, connection_id: str) -> Owner:
    """Whose connection this is; 401 once it is gone or past its 2 hours."""
    connections = realtime_connection_table
    row = session.execute(
        select(connections.c.user_id, user_table.c.username)
        .join(user_table, user_table.c.id == connections.c.user_id)
        .where(connections.c.connection_id == connection_id, connections.c.expires_at > func.now())
    ).first()
    if row is None:
        raise Unauthorized("This connection is closed or expired: reconnect with a new ticket")
    return Owner(user_id=row.user_id, username=row.username)


def subscribe(session: Connection, connection_id: str, user_id: uuid.UUID, room_id: uuid.UUID) -> RoomView:
    """Reader+ of the room (else 404, as for GET /rooms/{id}); subscribing twice is one subscription."""
    room = room_for(session, room_id, user_id, at_least="reader")
    session.execute(
        pg_insert(realtime_subscription_table)
        .values(connection_id=connection_id, room_id=room_id)
        .on_conflict_do_nothing(index_elements=["connection_id", "room_id"])
    )
    return room


def unsubscribe(session: Connection, connection_id: str, room_id: uuid.UUID) -> None:
    """Always fine, subscribed or not: it tells nothing about the room."""
    subscriptions = realtime_subscription_table
    session.execute(
        delete(subscriptions).where(subscriptions.c.connection_id == connection_id, subscriptions.c.room_id == room_id)
    )


_TYPED = text(
    "INSERT INTO realtime_typing (room_id, user_id, typed_at) VALUES (:room, :user, now()) "
    "ON CONFLICT (room_id, user_id) DO UPDATE SET typed_at = EXCLUDED.typed_at "
    "WHERE realtime_typing.typed_at <= EXCLUDED.typed_at - make_interval(secs => :every) "
    "RETURNING 1"
)

# The room's subscribed connections of its current members, the typist's own excepted.
_AUDIENCE = text(
    "SELECT s.connection_id FROM realtime_subscriptions s "
    "JOIN realtime_connections c ON c.connection_id = s.connection_id "
    "JOIN room_members m ON m.room_id = s.room_id AND m.user_id = c.user_id "
    "WHERE s.room_id = :room AND c.user_id <> :user AND c.expires_at > now() "
    "ORDER BY s.connection_id"
)


def typing(session: Connection, user_id: uuid.UUID, room_id: uuid.UUID) -> list[str] | None:
    """Guest+ of the room; the connections to tell, or None when this user typed there under
    TYPING_EVERY_S ago (throttled: nothing is sent)."""
    room_for(session, room_id, user_id, at_least="guest")
    if session.execute(_TYPED, {"room": room_id, "user": user_id, "every": TYPING_EVERY_S}).first() is None:
        return None
    return [str(cid) for cid in session.execute(_AUDIENCE, {"room": room_id, "user": user_id}).scalars()]
