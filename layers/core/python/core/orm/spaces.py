"""Transitional ORM classes on the Core tables of core.models.spaces (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped

from core.models.spaces import space_member_table, space_table
from core.orm.base import Base

__all__ = ["Space", "SpaceMember"]


class Space(Base):
    __table__ = space_table

    id: Mapped[uuid.UUID]
    name: Mapped[str]
    quota_bytes: Mapped[int | None]
    used_bytes: Mapped[int]
    reserved_bytes: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SpaceMember(Base):
    __table__ = space_member_table

    space_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    role: Mapped[str]
    joined_at: Mapped[datetime]
