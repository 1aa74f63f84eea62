"""Append-only audit trail; a trigger refuses UPDATE and DELETE."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import Uuid

from core.models.base import metadata, uuid_pk

audit_event_table = Table(
    "audit_events",
    metadata,
    uuid_pk(),
    # No foreign key: the trail outlives what it describes.
    Column("user_id", Uuid, nullable=True),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=True),
    Column("target_id", Text, nullable=True),
    Column("ip", Text, nullable=True),
    # The shared space it happened in (no foreign key either).
    Column("space_id", Uuid, nullable=True),
    Column("data", JSONB, nullable=False, server_default="{}", default=dict),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
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
