"""Shared spaces of assets: the space (with its byte counters and quota) and its members (three roles).

An asset is in at most one space (`assets.space_id`); without one it is in its uploader's
personal library. The counters move by one conditional UPDATE each (functions/assets/quota.py).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, ForeignKey, Index, String, Table, func, text
from sqlalchemy.types import Uuid

from core.models.base import metadata, timestamps, uuid_pk

# Lowest first; the order is the rule of who may manage whom.
SPACE_ROLES = ("viewer", "editor", "owner")


space_table = Table(
    "spaces",
    metadata,
    uuid_pk(),
    Column("name", String(100), nullable=False),
    # NULL: no quota. Counted against it: used_bytes + reserved_bytes.
    Column("quota_bytes", BigInteger, nullable=True),
    # Bytes of the space's stored assets (single uploads count from their start: their size is signed).
    Column("used_bytes", BigInteger, nullable=False, server_default="0", default=0),
    # Declared bytes of multipart uploads in progress; moved to used_bytes when one completes.
    Column("reserved_bytes", BigInteger, nullable=False, server_default="0", default=0),
    *timestamps(),
    CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
    CheckConstraint("quota_bytes IS NULL OR quota_bytes >= 0", name="quota_not_negative"),
    CheckConstraint("used_bytes >= 0", name="used_not_negative"),
    CheckConstraint("reserved_bytes >= 0", name="reserved_not_negative"),
)

space_member_table = Table(
    "space_members",
    metadata,
    Column("space_id", Uuid, ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("joined_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    CheckConstraint(f"role IN {SPACE_ROLES!r}", name="role"),
    # Exactly one owner per space: at most one by this index, at least one because the owner's
    # row is never deleted or demoted except by a transfer in the same transaction.
    Index("uq_space_members_one_owner", "space_id", unique=True, postgresql_where=text("role = 'owner'")),
    Index("ix_space_members_space_id_joined_at_user_id", "space_id", "joined_at", "user_id"),
    Index("ix_space_members_user_id_joined_at_space_id", "user_id", text("joined_at DESC"), text("space_id DESC")),
)
