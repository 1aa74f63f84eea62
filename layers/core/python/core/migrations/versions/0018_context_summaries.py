"""rooms: AI context summaries (issue 19.2), cached per room and scope, invalidated by a trigger

Revision ID: 0018_context_summaries
Revises: 0017_balances
Create Date: 2026-12-04

`message_context_summaries` holds, per room and scope (NULL: the shared public context; a user:
that user's private context), the summary of the oldest messages of the AI context that did not
fit its budget (core.models.ai_context). A row is valid while the messages of its seq range are
unchanged: the trigger below deletes the rows covering a message in the very UPDATE that changes
what the AI may see of it (content, status, deletion, exclusion, visibility, requester, time,
sender), whatever wrote it (an edit, a delete, an exclusion, an AI reply ending or regenerated),
at no extra statement. Messages are never deleted row by row (soft deletes); a room's rows go
with the room (CASCADE). app_rw reaches the table through the default privileges (0009) and runs
the trigger with its own rights (DELETE on the table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_context_summaries"
down_revision = "0017_balances"
branch_labels = None
depends_on = None

WATCHED = (
    "content",
    "status",
    "deleted_at",
    "exclude_from_ai",
    "visibility",
    "requester_id",
    "created_at",
    "sender_id",
)


def upgrade() -> None:
    op.create_table(
        "message_context_summaries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=True),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("token_estimate", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "from_seq > 0 AND from_seq <= through_seq", name=op.f("ck_message_context_summaries_seq_range")
        ),
        sa.CheckConstraint(
            "token_estimate >= 0", name=op.f("ck_message_context_summaries_token_estimate_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_message_context_summaries_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_message_context_summaries_requester_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_context_summaries")),
    )
    op.create_index(
        "uq_message_context_summaries_room_id_requester_id",
        "message_context_summaries",
        ["room_id", "requester_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_index("ix_message_context_summaries_requester_id", "message_context_summaries", ["requester_id"])
    op.execute(
        """
        CREATE FUNCTION message_context_summaries_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          DELETE FROM message_context_summaries
          WHERE room_id = NEW.room_id AND from_seq <= NEW.seq AND through_seq >= NEW.seq;
          RETURN NULL;
        END $$
        """
    )
    old = ", ".join(f"OLD.{c}" for c in WATCHED)
    new = ", ".join(f"NEW.{c}" for c in WATCHED)
    op.execute(
        "CREATE TRIGGER messages_invalidate_context_summaries AFTER UPDATE ON messages FOR EACH ROW "
        f"WHEN (({old}) IS DISTINCT FROM ({new})) EXECUTE FUNCTION message_context_summaries_invalidate()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS messages_invalidate_context_summaries ON messages")
    op.execute("DROP FUNCTION IF EXISTS message_context_summaries_invalidate()")
    op.drop_index("ix_message_context_summaries_requester_id", table_name="message_context_summaries")
    op.drop_index("uq_message_context_summaries_room_id_requester_id", table_name="message_context_summaries")
    op.drop_table("message_context_summaries")
