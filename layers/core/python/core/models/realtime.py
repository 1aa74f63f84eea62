"""Realtime rooms: WebSocket tickets, the open connections and their room subscriptions.

API Gateway keeps the sockets; these rows are what the backend knows of them. A ticket is
spent by `$connect` (single use, 60 s, stored as SHA-256), a connection row lives until
`$disconnect`, a 410 Gone from the Management API, or its `expires_at` (API Gateway's 2-hour
limit), and its subscriptions go with it. `realtime_typing` only remembers when a user last
typed in a room, to let one typing event through per 3 s; the events themselves are never stored.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, String, Table, Text, func
from sqlalchemy.types import Uuid

from core.models.base import metadata

realtime_ticket_table = Table(
    "realtime_tickets",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # The sign-in that asked for it: a ticket of a session revoked since is refused.
    Column("session_id", Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_realtime_tickets_expires_at", "expires_at"),
)

realtime_connection_table = Table(
    "realtime_connections",
    metadata,
    # API Gateway's connectionId (16 characters today; room to spare).
    Column("connection_id", String(128), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("connected_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_realtime_connections_user_id", "user_id"),
    Index("ix_realtime_connections_expires_at", "expires_at"),
)

realtime_subscription_table = Table(
    "realtime_subscriptions",
    metadata,
    # Fan-out reads a room's subscribers: the room first.
    Column(
        "connection_id",
        String(128),
        ForeignKey("realtime_connections.connection_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Index("ix_realtime_subscriptions_room_id_connection_id", "room_id", "connection_id"),
)

realtime_typing_table = Table(
    "realtime_typing",
    metadata,
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("typed_at", DateTime(timezone=True), nullable=False),
)

# An event some room's subscribers are yet to receive (core.room_events): a transactional outbox.
#
# Written in the transaction of the change it reports, so a rolled-back change leaves none; the
# fan-out function pushes a room's rows in `position` order and deletes them.
realtime_event_table = Table(
    "realtime_events",
    metadata,
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    # From rooms.last_event, bumped under the room row's lock: positions follow commit order.
    Column("position", BigInteger, primary_key=True),
    Column("type", String(40), nullable=False),
    Column("seq", BigInteger, nullable=True),
    # the frame's `data`, as JSON text
    Column("data", Text, nullable=False),
    # Set: only this user's connections may receive it (a private AI exchange).
    Column("only_user_id", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)
