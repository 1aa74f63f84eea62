"""Users: the accounts behind every other table."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text, text

from core.models.base import metadata, timestamps, uuid_pk

user_table = Table(
    "users",
    metadata,
    uuid_pk(),
    Column("email", String(254), nullable=False),
    Column("username", String(50), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("bio", Text, nullable=False, server_default="", default=""),
    Column("avatar_url", Text, nullable=True),
    *timestamps(),
    # Case-insensitive uniqueness; the stored spelling is the user's own.
    Index("uq_users_email_lower", text("lower(email)"), unique=True),
    Index("uq_users_username_lower", text("lower(username)"), unique=True),
)
