"""Forks' copy jobs (issue 19.1; its own module: a room list loads no fork table)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, ForeignKey, String, Table, Text, func
from sqlalchemy.types import Uuid

from core.models.base import metadata

FORK_STATUSES = ("copying", "completed", "failed")

# The copy of a forked room's conversation (functions/room_forks): one row per fork, its cursor
# (the source seq copied through) and counters advanced in each batch's own transaction.
room_fork_table = Table(
    "room_forks",
    metadata,
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("source_room_id", Uuid, ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True),
    # Whose fork: whose private exchanges are copied, who gets the progress events.
    Column("requested_by", Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("up_to_seq", BigInteger, nullable=False),
    # messages to copy, counted at the start
    Column("total", BigInteger, nullable=False),
    Column("copied", BigInteger, nullable=False, server_default="0", default=0),
    Column("cursor_seq", BigInteger, nullable=False, server_default="0", default=0),
    Column("status", String(16), nullable=False, server_default="copying", default="copying"),
    Column("error", Text, nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    CheckConstraint(f"status IN {FORK_STATUSES!r}", name="status"),
    CheckConstraint("copied >= 0 AND cursor_seq >= 0 AND total >= 0 AND up_to_seq >= 0", name="counts"),
)
