"""Transitional ORM classes on the Core tables of core.models.user (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped

from core.models.user import user_table
from core.orm.base import Base

__all__ = ["User"]


class User(Base):
    __table__ = user_table

    id: Mapped[uuid.UUID]
    email: Mapped[str]
    username: Mapped[str]
    password_hash: Mapped[str]
    bio: Mapped[str]
    avatar_url: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
