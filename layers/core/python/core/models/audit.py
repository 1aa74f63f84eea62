"""Append-only audit trail; a trigger refuses UPDATE and DELETE."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from core.models.base import Base, UuidPk


class AuditEvent(UuidPk, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_user_id_created_at", "user_id", "created_at"),
        # GET /spaces/{id}/audit and a space's download counts.
        Index(
            "ix_audit_events_space_id_created_at_id",
            "space_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("space_id IS NOT NULL"),
        ),
    )

    # No foreign key: the trail outlives what it describes.
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    ip: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The shared space it happened in (no foreign key either).
    space_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}", default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
