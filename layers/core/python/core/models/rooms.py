"""Team chat rooms: rooms, their members (five roles) and messages (invitations and fork jobs:
core.models.room_invitations, core.models.room_forks).

Messages carry a per-room `seq` allocated from `rooms.last_seq` by
`UPDATE ... RETURNING` in the message's own transaction (no sequences: they
pin RDS Proxy connections), so it is gap-free and strictly increasing.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.types import Uuid

from core.models.base import metadata, timestamps, uuid_pk

# Lowest first; the order is the rule of who may manage whom.
ROLES = ("reader", "guest", "member", "admin", "master")
AI_PROVIDERS = ("echo", "bedrock", "openai")
MESSAGE_KINDS = ("human", "ai")
MESSAGE_STATUSES = ("pending", "completed", "failed")  # pending: an AI reply being generated
VISIBILITIES = ("public", "private")


room_table = Table(
    "rooms",
    metadata,
    uuid_pk(),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False, server_default="", default=""),
    # NULL: the deployment's default provider and model (settings).
    Column("ai_provider", String(16), nullable=True),
    Column("ai_model", String(200), nullable=True),
    # Messages before this time are never sent to the AI.
    Column("ai_context_cutoff_at", DateTime(timezone=True), nullable=True),
    # The seq of the room's newest message; bumped by UPDATE ... RETURNING.
    Column("last_seq", BigInteger, nullable=False, server_default="0", default=0),
    # The position of the room's newest realtime event (core.room_events): commit order under the row lock.
    Column("last_event", BigInteger, nullable=False, server_default="0", default=0),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    # Read-only (posting answers 409): a fork while its conversation is being copied (RoomFork).
    Column("archived_at", DateTime(timezone=True), nullable=True),
    # A fork: the room it was forked from, and the seq of that room it copied up to.
    Column("forked_from_room_id", Uuid, ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True),
    Column("forked_at_seq", BigInteger, nullable=True),
    *timestamps(),
    CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
    CheckConstraint("last_seq >= 0", name="last_seq_not_negative"),
    CheckConstraint(f"ai_provider IN {AI_PROVIDERS!r}", name="ai_provider"),
    CheckConstraint("forked_at_seq >= 0", name="forked_at_seq_not_negative"),
)

room_member_table = Table(
    "room_members",
    metadata,
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("joined_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    # The seq up to which this member has read (POST /rooms/{id}/read; never moves backwards).
    Column("last_read_seq", BigInteger, nullable=False, server_default="0", default=0),
    CheckConstraint(f"role IN {ROLES!r}", name="role"),
    CheckConstraint("last_read_seq >= 0", name="last_read_seq_not_negative"),
    # Exactly one master per room: at most one by this index, at least one because the
    # master row is never deleted or demoted except by a transfer in the same transaction.
    Index("uq_room_members_one_master", "room_id", unique=True, postgresql_where=text("role = 'master'")),
    Index("ix_room_members_room_id_joined_at_user_id", "room_id", "joined_at", "user_id"),
    Index("ix_room_members_user_id_joined_at_room_id", "user_id", text("joined_at DESC"), text("room_id DESC")),
)

message_table = Table(
    "messages",
    metadata,
    uuid_pk(),
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    # NULL for AI messages.
    Column("sender_id", Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("kind", String(8), nullable=False),
    Column("content", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="completed", default="completed"),
    Column("visibility", String(8), nullable=False, server_default="public", default="public"),
    # Who asked for the AI exchange; a private exchange is visible to this user only.
    Column("requester_id", Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("exclude_from_ai", Boolean, nullable=False, server_default="false", default=False),
    # For an AI message: the human message it answers.
    Column("reply_to_id", Uuid, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    # A pending AI reply: the job that may end it (core.ai_replies), and when it counts as failed.
    Column("job_id", Uuid, nullable=True),
    Column("pending_until", DateTime(timezone=True), nullable=True),
    *timestamps(),
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
