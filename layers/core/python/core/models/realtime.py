"""Realtime rooms: WebSocket tickets, the open connections and their room subscriptions.

API Gateway keeps the sockets; these rows are what the backend knows of them. A ticket is
spent by `$connect` (single use, 60 s, stored as SHA-256), a connection row lives until
`$disconnect`, a 410 Gone from the Management API, or its `expires_at` (API Gateway's 2-hour
limit), and its subscriptions go with it. `realtime_typing` only remembers when a user last
typed in a room, to let one typing event through per 3 s; the events themselves are never stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from core.models.base import Base


class RealtimeTicket(Base):
    __tablename__ = "realtime_tickets"
    __table_args__ = (Index("ix_realtime_tickets_expires_at", "expires_at"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    # The sign-in that asked for it: a ticket of a session revoked since is refused.
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RealtimeConnection(Base):
    __tablename__ = "realtime_connections"
    __table_args__ = (
        Index("ix_realtime_connections_user_id", "user_id"),
        Index("ix_realtime_connections_expires_at", "expires_at"),
    )

    # API Gateway's connectionId (16 characters today; room to spare).
    connection_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False
    )
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RealtimeSubscription(Base):
    __tablename__ = "realtime_subscriptions"
    # Fan-out reads a room's subscribers: the room first.
    __table_args__ = (Index("ix_realtime_subscriptions_room_id_connection_id", "room_id", "connection_id"),)

    connection_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("realtime_connections.connection_id", ondelete="CASCADE"), primary_key=True
    )
    room_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class RealtimeTyping(Base):
    __tablename__ = "realtime_typing"

    room_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    typed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RealtimeEvent(Base):
    """An event some room's subscribers are yet to receive (core.room_events): a transactional outbox.

    Written in the transaction of the change it reports, so a rolled-back change leaves none; the
    fan-out function pushes a room's rows in `position` order and deletes them.
    """

    __tablename__ = "realtime_events"

    room_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    # From rooms.last_event, bumped under the room row's lock: positions follow commit order.
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    data: Mapped[str] = mapped_column(Text, nullable=False)  # the frame's `data`, as JSON text
    # Set: only this user's connections may receive it (a private AI exchange).
    only_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
