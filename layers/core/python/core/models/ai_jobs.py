"""AI reply jobs admitted to call their provider (migration 0022; its own module: only ai_steps reads it)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Table, func
from sqlalchemy.types import Uuid

from core.models.base import metadata

# One row per job the `start` step let call its provider: what may be charged once the job no
# longer owns its message (functions/ai_steps: finish).
ai_job_table = Table(
    "ai_jobs",
    metadata,
    Column("job_id", Uuid, primary_key=True),
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", Uuid, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("admitted_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Index("ix_ai_jobs_message_id", "message_id"),
)
