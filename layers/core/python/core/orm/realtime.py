"""Transitional ORM classes on the Core tables of core.models.realtime (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped

from core.models.realtime import (
    realtime_connection_table,
    realtime_event_table,
    realtime_subscription_table,
    realtime_ticket_table,
    realtime_typing_table,
)
from core.orm.base import Base

__all__ = ["RealtimeConnection", "RealtimeEvent", "RealtimeSubscription", "RealtimeTicket", "RealtimeTyping"]


class RealtimeTicket(Base):
    __table__ = realtime_ticket_table

    digest: Mapped[str]
    user_id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class RealtimeConnection(Base):
    __table__ = realtime_connection_table

    connection_id: Mapped[str]
    user_id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID]
    connected_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class RealtimeSubscription(Base):
    __table__ = realtime_subscription_table

    connection_id: Mapped[str]
    room_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]


class RealtimeTyping(Base):
    __table__ = realtime_typing_table

    room_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    typed_at: Mapped[datetime]


class RealtimeEvent(Base):
    __table__ = realtime_event_table

    room_id: Mapped[uuid.UUID]
    position: Mapped[int]
    type: Mapped[str]
    seq: Mapped[int | None]
    data: Mapped[str]
    only_user_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
