"""rooms: images of messages (issue 19.5)

Revision ID: 0019_room_images
Revises: 0018_context_summaries
Create Date: 2026-12-04

One row per image a member uploads to a room (presigned POST under room-images/), made when the
upload is issued (`pending`); the media pipeline takes it to `processing`, then `ready` (variants
without metadata) or `refused`. The uploader attaches it to one of their messages (message_id,
position). app_rw reaches the new table through the default privileges (0009).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019_room_images"
down_revision = "0018_context_summaries"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "room_images",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("uploader_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.SmallInteger(), nullable=True),
        sa.Column("image_key", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("version_id", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("variants", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'ready', 'refused')", name=op.f("ck_room_images_status")
        ),
        sa.CheckConstraint("size > 0", name=op.f("ck_room_images_size_positive")),
        sa.CheckConstraint("position >= 0 AND position < 4", name=op.f("ck_room_images_position_range")),
        sa.CheckConstraint(
            "(message_id IS NULL) = (position IS NULL)", name=op.f("ck_room_images_position_with_message")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_images_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"], ["users.id"], name=op.f("fk_room_images_uploader_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_room_images_message_id_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_images")),
        sa.UniqueConstraint("image_key", name=op.f("uq_room_images_image_key")),
    )
    op.create_index("uq_room_images_message_id_position", "room_images", ["message_id", "position"], unique=True)
    op.create_index("ix_room_images_room_id", "room_images", ["room_id"])
    op.create_index("ix_room_images_uploader_id", "room_images", ["uploader_id"])


def downgrade() -> None:
    op.drop_table("room_images")
