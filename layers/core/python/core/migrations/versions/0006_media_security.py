"""media security (issue 14): scanned S3 versions of assets and variants, shares of originals,
no permanent shares

Revision ID: 0006_media_security
Revises: 0005_rooms
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_media_security"
down_revision = "0005_rooms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows keep NULL: their upload URLs expired long ago, and they are served unpinned.
    op.add_column("assets", sa.Column("version_id", sa.Text(), nullable=True))
    op.add_column("asset_variants", sa.Column("version_id", sa.Text(), nullable=True))
    op.add_column("asset_variants", sa.Column("source_version_id", sa.Text(), nullable=True))
    # Existing links, too, hand out the preview from now on (they leaked the original's GPS).
    op.add_column("shares", sa.Column("original", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    # No permanent links: those made without an expiry get the longest lifetime (30 days from their
    # creation), and at least a week from this migration.
    op.execute(
        "UPDATE shares SET expires_at = GREATEST(created_at + interval '30 days', now() + interval '7 days') "
        "WHERE expires_at IS NULL"
    )
    op.alter_column("shares", "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    op.alter_column("shares", "expires_at", existing_type=sa.DateTime(timezone=True), nullable=True)
    op.drop_column("shares", "original")
    op.drop_column("asset_variants", "source_version_id")
    op.drop_column("asset_variants", "version_id")
    op.drop_column("assets", "version_id")
