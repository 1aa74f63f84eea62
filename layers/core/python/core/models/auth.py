"""Sign-in state: sessions (refresh-token families), refresh tokens, and the retired login-failures table."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table, Text, func
from sqlalchemy.types import Uuid

from core.models.base import metadata, uuid_pk

# One sign-in: its access tokens carry `sid`, its refresh tokens form one family.
auth_session_table = Table(
    "auth_sessions",
    metadata,
    uuid_pk(),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_reason", String(32), nullable=True),
    Index("ix_auth_sessions_user_id", "user_id"),
)

# Opaque refresh tokens, stored as SHA-256 digests; spent on first use.
refresh_token_table = Table(
    "refresh_tokens",
    metadata,
    uuid_pk(),
    Column("session_id", Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_refresh_tokens_session_id", "session_id"),
)

# Failed logins as the throttle before issue 14 counted them. No longer written or read: login throttling
# counts in `rate_limit_windows` (auth.logic). Kept while old code may still run during a deploy (expand,
# then contract); a later migration drops it.
login_failure_table = Table(
    "login_failures",
    metadata,
    uuid_pk(),
    Column("email", String(254), nullable=False),
    Column("ip", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Index("ix_login_failures_email_created_at", "email", "created_at"),
    Index("ix_login_failures_ip_created_at", "ip", "created_at"),
)
