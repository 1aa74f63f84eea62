"""Invitations to rooms: one user by name, or a link anyone holding its token may accept once
(its own module: a room list loads no invitation table)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, String, Table, func, text
from sqlalchemy.types import Uuid

from core.models.base import metadata, uuid_pk

INVITABLE_ROLES = ("reader", "guest", "member")

room_invitation_table = Table(
    "room_invitations",
    metadata,
    uuid_pk(),
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of the token; the token itself is shown once, to its creator.
    Column("token_hash", String(64), nullable=False, unique=True),
    # NULL: a link invitation anyone holding the token may accept (once).
    Column("invitee_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(16), nullable=False),
    Column("created_by", Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=True),
    Column("accepted_by", Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("declined_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    CheckConstraint(f"role IN {INVITABLE_ROLES!r}", name="role"),
    CheckConstraint("accepted_at IS NULL OR declined_at IS NULL", name="answered_once"),
    # GET /invitations: my pending invitations, newest first.
    Index(
        "ix_room_invitations_invitee_id_created_at_id",
        "invitee_id",
        text("created_at DESC"),
        text("id DESC"),
        postgresql_where=text("accepted_at IS NULL AND declined_at IS NULL"),
    ),
    Index("ix_room_invitations_room_id", "room_id"),
)
