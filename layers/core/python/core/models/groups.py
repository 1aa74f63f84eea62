"""Groups of users (issue 19.3): a name, one manager (the creator) and members, for inviting many
people to a room in one request (POST /rooms/{id}/invitations {group_id})."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from core.models.base import Base, Timestamps, UuidPk


class Group(UuidPk, Timestamps, Base):
    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        Index("ix_groups_manager_id", "manager_id"),
    )

    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # The creator: the one user who renames it, adds and removes members, deletes it.
    manager_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (
        # A group's members in the order they were added (keyset), and my groups.
        Index("ix_group_members_group_id_added_at_user_id", "group_id", "added_at", "user_id"),
        Index("ix_group_members_user_id", "user_id"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
