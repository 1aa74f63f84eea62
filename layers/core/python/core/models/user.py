"""Users: the accounts behind every other table."""

from __future__ import annotations

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, Timestamps, UuidPk


class User(UuidPk, Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        # Case-insensitive uniqueness; the stored spelling is the user's own.
        Index("uq_users_email_lower", text("lower(email)"), unique=True),
        Index("uq_users_username_lower", text("lower(username)"), unique=True),
    )

    email: Mapped[str] = mapped_column(String(254), nullable=False)
    username: Mapped[str] = mapped_column(String(50), nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    bio: Mapped[str] = mapped_column(Text, nullable=False, server_default="", default="")
    avatar_url: Mapped[str | None] = mapped_column(Text, nullable=True)
