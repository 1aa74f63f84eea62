"""rooms: a fork copies its messages' images (issue 19.1 with 19.5)

Revision ID: 0020_room_image_copies
Revises: 0019_room_images
Create Date: 2026-12-04

A fork's copy of an image is a row of the fork with the upload's `image_key` and variants and
`origin_image_id` naming the upload (no FK; a copy of a copy names the upload itself). `image_key`
stays unique among uploads (a partial unique index where `origin_image_id IS NULL`: the media
pipeline claims and finishes exactly one row per key); the copies of an upload are found by
`origin_image_id` when the pipeline finishes it. The downgrade deletes the copies (forks then carry
no images, as before this revision) and restores the plain UNIQUE constraint.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_room_image_copies"
down_revision = "0019_room_images"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("room_images", sa.Column("origin_image_id", sa.Uuid(), nullable=True))
    # A copy always belongs to a copied message, so no send can ever attach it (rooms.images.attach).
    op.create_check_constraint(
        op.f("ck_room_images_copy_with_message"), "room_images", "origin_image_id IS NULL OR message_id IS NOT NULL"
    )
    op.drop_constraint("uq_room_images_image_key", "room_images", type_="unique")
    op.create_index(
        "uq_room_images_image_key",
        "room_images",
        ["image_key"],
        unique=True,
        postgresql_where=sa.text("origin_image_id IS NULL"),
    )
    op.create_index(
        "ix_room_images_origin_image_id",
        "room_images",
        ["origin_image_id"],
        postgresql_where=sa.text("origin_image_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.execute("DELETE FROM room_images WHERE origin_image_id IS NOT NULL")
    op.drop_index("ix_room_images_origin_image_id", table_name="room_images")
    op.drop_index("uq_room_images_image_key", table_name="room_images")
    op.drop_constraint(op.f("ck_room_images_copy_with_message"), "room_images", type_="check")
    op.create_unique_constraint("uq_room_images_image_key", "room_images", ["image_key"])
    op.drop_column("room_images", "origin_image_id")
