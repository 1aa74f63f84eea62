"""post images through the media pipeline (issue 15.1): what it made of each post image

Revision ID: 0010_post_images
Revises: 0009_app_role
Create Date: 2026-12-04

One row per post image key, written by the media function (processing -> ready | refused), joined
by the feed. Images of existing posts have no row and answer `image_status: processing` until an
ObjectCreated event for their key is sent to the media queue again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_post_images"
down_revision = "0009_app_role"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "post_images",
        sa.Column("image_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("version_id", sa.Text(), nullable=True),
        sa.Column("variants", postgresql.JSONB(), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("status IN ('processing', 'ready', 'refused')", name=op.f("ck_post_images_status")),
        sa.PrimaryKeyConstraint("image_key", name=op.f("pk_post_images")),
    )


def downgrade() -> None:
    op.drop_table("post_images")
