"""rooms: index of each user's unsent room images (issue #19)

Revision ID: 0021_room_images_unsent
Revises: 0020_room_image_copies
Create Date: 2026-12-04

Each upload of a room image counts its uploader's uploads not sent with a message (all rooms)
against a cap, and at the cap reclaims the oldest past a TTL: a partial index on
(uploader_id, created_at) of the rows with no message that are not a fork's copy keeps both to the
few unsent rows, however many images the user has sent.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_room_images_unsent"
down_revision = "0020_room_image_copies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_room_images_unsent",
        "room_images",
        ["uploader_id", "created_at"],
        postgresql_where=sa.text("message_id IS NULL AND origin_image_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_room_images_unsent", table_name="room_images")
