"""Transitional ORM classes on the Core tables of core.models.audit (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Mapped

from core.models.audit import audit_event_table
from core.orm.base import Base

__all__ = ["AuditEvent"]


class AuditEvent(Base):
    __table__ = audit_event_table

    id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None]
    action: Mapped[str]
    target_type: Mapped[str | None]
    target_id: Mapped[str | None]
    ip: Mapped[str | None]
    space_id: Mapped[uuid.UUID | None]
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
