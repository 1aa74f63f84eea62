"""Team chat rooms: rooms, their members (five roles), invitations and messages.

Messages carry a per-room `seq` allocated from `rooms.last_seq` by
`UPDATE ... RETURNING` in the message's own transaction (no sequences: they
pin RDS Proxy connections), so it is gap-free and strictly increasing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from core.models.base import Base, Timestamps, UuidPk

# Lowest first; the order is the rule of who may manage whom.
ROLES = ("reader", "guest", "member", "admin", "master")
INVITABLE_ROLES = ("reader", "guest", "member")
AI_PROVIDERS = ("echo", "bedrock", "openai")
MESSAGE_KINDS = ("human", "ai")
MESSAGE_STATUSES = ("pending", "completed", "failed")  # pending: an AI reply being generated
VISIBILITIES = ("public", "private")


class Room(UuidPk, Timestamps, Base):
    __tablename__ = "rooms"
    __table_args__ = (
        CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint("last_seq >= 0", name="last_seq_not_negative"),
        CheckConstraint(f"ai_provider IN {AI_PROVIDERS!r}", name="ai_provider"),
        CheckConstraint("forked_at_seq >= 0", name="forked_at_seq_not_negative"),
    )

    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="", default="")
    # NULL: the deployment's default provider and model (settings).
    ai_provider: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ai_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Messages before this time are never sent to the AI.
    ai_context_cutoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The seq of the room's newest message; bumped by UPDATE ... RETURNING.
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0", default=0)
    # The position of the room's newest realtime event (core.room_events): commit order under the row lock.
    last_event: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0", default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Read-only (posting answers 409): a fork while its conversation is being copied (RoomFork).
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # A fork: the room it was forked from, and the seq of that room it copied up to.
    forked_from_room_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True
    )
    forked_at_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RoomMember(Base):
    __tablename__ = "room_members"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        CheckConstraint("last_read_seq >= 0", name="last_read_seq_not_negative"),
        # Exactly one master per room: at most one by this index, at least one because the
        # master row is never deleted or demoted except by a transfer in the same transaction.
        Index("uq_room_members_one_master", "room_id", unique=True, postgresql_where=text("role = 'master'")),
        Index("ix_room_members_room_id_joined_at_user_id", "room_id", "joined_at", "user_id"),
        Index("ix_room_members_user_id_joined_at_room_id", "user_id", text("joined_at DESC"), text("room_id DESC")),
    )

    room_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    # The seq up to which this member has read (POST /rooms/{id}/read; never moves backwards).
    last_read_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0", default=0)


class RoomInvitation(UuidPk, Base):
    __tablename__ = "room_invitations"
    __table_args__ = (
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

    room_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False)
    # SHA-256 of the token; the token itself is shown once, to its creator.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # NULL: a link invitation anyone holding the token may accept (once).
    invitee_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    declined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Message(UuidPk, Timestamps, Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(f"kind IN {MESSAGE_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {MESSAGE_STATUSES!r}", name="status"),
        CheckConstraint(f"visibility IN {VISIBILITIES!r}", name="visibility"),
        CheckConstraint("kind = 'human' OR sender_id IS NULL", name="ai_has_no_sender"),
        CheckConstraint("seq > 0", name="seq_positive"),
        CheckConstraint(
            "status <> 'pending' OR (job_id IS NOT NULL AND pending_until IS NOT NULL)", name="pending_has_a_job"
        ),
        # Also the keyset index of the history (newest first is a backward scan).
        Index("uq_messages_room_id_seq", "room_id", "seq", unique=True),
        # One AI reply per human message: regenerate rewrites it in place.
        Index("uq_messages_reply_to_id", "reply_to_id", unique=True),
    )

    room_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # NULL for AI messages.
    sender_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="completed", default="completed")
    visibility: Mapped[str] = mapped_column(String(8), nullable=False, server_default="public", default="public")
    # Who asked for the AI exchange; a private exchange is visible to this user only.
    requester_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    exclude_from_ai: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false", default=False)
    # For an AI message: the human message it answers.
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # A pending AI reply: the job that may end it (core.ai_replies), and when it counts as failed.
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    pending_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


FORK_STATUSES = ("copying", "completed", "failed")


class RoomFork(Base):
    """The copy of a forked room's conversation (functions/room_forks): one row per fork, its cursor
    (the source seq copied through) and counters advanced in each batch's own transaction."""

    __tablename__ = "room_forks"
    __table_args__ = (
        CheckConstraint(f"status IN {FORK_STATUSES!r}", name="status"),
        CheckConstraint("copied >= 0 AND cursor_seq >= 0 AND total >= 0 AND up_to_seq >= 0", name="counts"),
    )

    room_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    source_room_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True
    )
    # Whose fork: whose private exchanges are copied, who gets the progress events.
    requested_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    up_to_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False)  # messages to copy, counted at the start
    copied: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0", default=0)
    cursor_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0", default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="copying", default="copying")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
