"""rooms, room members, room invitations, messages

Revision ID: 0005_rooms
Revises: 0004_assets
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_rooms"
down_revision = "0004_assets"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("ai_provider", sa.String(16), nullable=True),
        sa.Column("ai_model", sa.String(200), nullable=True),
        sa.Column("ai_context_cutoff_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 100", name=op.f("ck_rooms_name_length")),
        sa.CheckConstraint("last_seq >= 0", name=op.f("ck_rooms_last_seq_not_negative")),
        sa.CheckConstraint("ai_provider IN ('echo', 'bedrock', 'openai')", name=op.f("ck_rooms_ai_provider")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
    )
    op.create_table(
        "room_members",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "role IN ('reader', 'guest', 'member', 'admin', 'master')", name=op.f("ck_room_members_role")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_members_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_members")),
    )
    op.create_index(
        "uq_room_members_one_master",
        "room_members",
        ["room_id"],
        unique=True,
        postgresql_where=sa.text("role = 'master'"),
    )
    op.create_index("ix_room_members_room_id_joined_at_user_id", "room_members", ["room_id", "joined_at", "user_id"])
    op.create_index(
        "ix_room_members_user_id_joined_at_room_id",
        "room_members",
        ["user_id", sa.text("joined_at DESC"), sa.text("room_id DESC")],
    )
    op.create_table(
        "room_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invitee_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("role IN ('reader', 'guest', 'member')", name=op.f("ck_room_invitations_role")),
        sa.CheckConstraint(
            "accepted_at IS NULL OR declined_at IS NULL", name=op.f("ck_room_invitations_answered_once")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_invitations_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invitee_id"], ["users.id"], name=op.f("fk_room_invitations_invitee_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_room_invitations_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by"], ["users.id"], name=op.f("fk_room_invitations_accepted_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_room_invitations_token_hash")),
    )
    op.create_index(
        "ix_room_invitations_invitee_id_created_at_id",
        "room_invitations",
        ["invitee_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("accepted_at IS NULL AND declined_at IS NULL"),
    )
    op.create_index("ix_room_invitations_room_id", "room_invitations", ["room_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="completed", nullable=False),
        sa.Column("visibility", sa.String(8), server_default="public", nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=True),
        sa.Column("exclude_from_ai", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("reply_to_id", sa.Uuid(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("kind IN ('human', 'ai')", name=op.f("ck_messages_kind")),
        sa.CheckConstraint("status IN ('completed', 'failed')", name=op.f("ck_messages_status")),
        sa.CheckConstraint("visibility IN ('public', 'private')", name=op.f("ck_messages_visibility")),
        sa.CheckConstraint("kind = 'human' OR sender_id IS NULL", name=op.f("ck_messages_ai_has_no_sender")),
        sa.CheckConstraint("seq > 0", name=op.f("ck_messages_seq_positive")),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_messages_room_id_rooms"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["users.id"], name=op.f("fk_messages_sender_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["users.id"], name=op.f("fk_messages_requester_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_id"], ["messages.id"], name=op.f("fk_messages_reply_to_id_messages"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index("uq_messages_room_id_seq", "messages", ["room_id", "seq"], unique=True)
    op.create_index("uq_messages_reply_to_id", "messages", ["reply_to_id"], unique=True)


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("room_invitations")
    op.drop_table("room_members")
    op.drop_table("rooms")
