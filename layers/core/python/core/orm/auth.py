"""Transitional ORM classes on the Core tables of core.models.auth (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped

from core.models.auth import auth_session_table, login_failure_table, refresh_token_table
from core.orm.base import Base

__all__ = ["AuthSession", "LoginFailure", "RefreshToken"]


class AuthSession(Base):
    __table__ = auth_session_table

    id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None]


class RefreshToken(Base):
    __table__ = refresh_token_table

    id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID]
    token_hash: Mapped[str]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginFailure(Base):
    __table__ = login_failure_table

    id: Mapped[uuid.UUID]
    email: Mapped[str]
    ip: Mapped[str]
    created_at: Mapped[datetime]
