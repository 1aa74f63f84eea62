"""What the rooms' AI is shown beyond the messages themselves (issue 19.2): context summaries.

When a room's AI context is over its budget, the oldest messages that do not fit are summarized by
the room's provider once and cached here (ai_worker.summaries, core.context_summaries). One row per
room and *scope*: `requester_id` NULL is the room's shared context (public messages only: what a
public AI request may show), a user's id is that user's private context (public messages and their
own private exchanges). A summary never serves another scope, so nobody's private exchange reaches
someone else's AI reply through it.

A row is valid while its range's messages are unchanged and the room's `ai_context_cutoff_at` is
still `cutoff_at`. Changed messages delete the rows whose range covers them in their own statement
(the trigger `messages_invalidate_context_summaries`, migration 0018); the cutoff is compared when
the row is read.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.types import Uuid

from core.models.base import metadata, uuid_pk

message_context_summary_table = Table(
    "message_context_summaries",
    metadata,
    uuid_pk(),
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    # NULL: the room's shared (public) context; a user: that user's private context.
    Column("requester_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    # The seqs the summary covers (both included).
    Column("from_seq", BigInteger, nullable=False),
    Column("through_seq", BigInteger, nullable=False),
    Column("content", Text, nullable=False),
    Column("token_estimate", Integer, nullable=False),
    Column("provider", String(16), nullable=False),
    Column("model", String(200), nullable=False),
    # The room's ai_context_cutoff_at it was made under: another cutoff makes it invalid.
    Column("cutoff_at", DateTime(timezone=True), nullable=True),
    # Changes with every write: a summary that extends another replaces exactly the one it read.
    Column("revision", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    CheckConstraint("from_seq > 0 AND from_seq <= through_seq", name="seq_range"),
    CheckConstraint("token_estimate >= 0", name="token_estimate_not_negative"),
    # One per room and scope; also the trigger's lookup by room.
    Index(
        "uq_message_context_summaries_room_id_requester_id",
        "room_id",
        "requester_id",
        unique=True,
        postgresql_nulls_not_distinct=True,
    ),
    Index("ix_message_context_summaries_requester_id", "requester_id"),
)
