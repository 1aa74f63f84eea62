"""Shared spaces of assets: the space (with its byte counters and quota) and its members (three roles).

An asset is in at most one space (`assets.space_id`); without one it is in its uploader's
personal library. The counters move by one conditional UPDATE each (functions/assets/quota.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from core.models.base import Base, Timestamps, UuidPk

# Lowest first; the order is the rule of who may manage whom.
SPACE_ROLES = ("viewer", "editor", "owner")


class Space(UuidPk, Timestamps, Base):
    __tablename__ = "spaces"
    __table_args__ = (
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint("quota_bytes IS NULL OR quota_bytes >= 0", name="quota_not_negative"),
        CheckConstraint("used_bytes >= 0", name="used_not_negative"),
        CheckConstraint("reserved_bytes >= 0", name="reserved_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # NULL: no quota. Counted against it: used_bytes + reserved_bytes.
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Bytes of the space's stored assets (single uploads count from their start: their size is signed).
    used_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0", default=0)
    # Declared bytes of multipart uploads in progress; moved to used_bytes when one completes.
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0", default=0)


class SpaceMember(Base):
    __tablename__ = "space_members"
    __table_args__ = (
        CheckConstraint(f"role IN {SPACE_ROLES!r}", name="role"),
        # Exactly one owner per space: at most one by this index, at least one because the owner's
        # row is never deleted or demoted except by a transfer in the same transaction.
        Index("uq_space_members_one_owner", "space_id", unique=True, postgresql_where=text("role = 'owner'")),
        Index("ix_space_members_space_id_joined_at_user_id", "space_id", "joined_at", "user_id"),
        Index("ix_space_members_user_id_joined_at_space_id", "user_id", text("joined_at DESC"), text("space_id DESC")),
    )

    space_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
