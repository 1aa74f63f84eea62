"""Groups of users (issue 19.3): a name, one manager (the creator) and members, for inviting many
people to a room in one request (POST /rooms/{id}/invitations {group_id})."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, String, Table, func
from sqlalchemy.types import Uuid

from core.models.base import metadata, timestamps, uuid_pk

group_table = Table(
    "groups",
    metadata,
    uuid_pk(),
    Column("name", String(100), nullable=False),
    # The creator: the one user who renames it, adds and removes members, deletes it.
    Column("manager_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    *timestamps(),
    CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
    Index("ix_groups_manager_id", "manager_id"),
)

group_member_table = Table(
    "group_members",
    metadata,
    Column("group_id", Uuid, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("added_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    # A group's members in the order they were added (keyset), and my groups.
    Index("ix_group_members_group_id_added_at_user_id", "group_id", "added_at", "user_id"),
    Index("ix_group_members_user_id", "user_id"),
)
