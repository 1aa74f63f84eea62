"""Transitional ORM classes on the Core tables of core.models.groups (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped

from core.models.groups import group_member_table, group_table
from core.orm.base import Base

__all__ = ["Group", "GroupMember"]


class Group(Base):
    __table__ = group_table

    id: Mapped[uuid.UUID]
    name: Mapped[str]
    manager_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class GroupMember(Base):
    __table__ = group_member_table

    group_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    added_at: Mapped[datetime]
