"""assets: shared spaces with owner / editor / viewer members, per-space usage and quota (issue 20)

Revision ID: 0013_spaces
Revises: 0012_realtime_events
Create Date: 2026-12-04

`spaces` holds each space's byte counters, bumped by one conditional UPDATE per upload start,
completion, move and delete (functions/assets/quota.py), so concurrent uploads cannot overshoot
the quota. `assets.space_id` puts an asset in a space (NULL: its uploader's personal library); a
deleted space hands its assets back to their uploaders (SET NULL). `audit_events.space_id` makes
the append-only trail (its trigger still refuses UPDATE and DELETE) readable per space; no foreign
key, as for user_id: the trail outlives what it describes.

app_rw reaches the new tables through the default privileges (0009) and the new columns through
its table privileges: audit_events stays SELECT and INSERT only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_spaces"
down_revision = "0012_realtime_events"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "spaces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("quota_bytes", sa.BigInteger(), nullable=True),
        sa.Column("used_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reserved_bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 100", name=op.f("ck_spaces_name_length")),
        sa.CheckConstraint("quota_bytes IS NULL OR quota_bytes >= 0", name=op.f("ck_spaces_quota_not_negative")),
        sa.CheckConstraint("used_bytes >= 0", name=op.f("ck_spaces_used_not_negative")),
        sa.CheckConstraint("reserved_bytes >= 0", name=op.f("ck_spaces_reserved_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spaces")),
    )
    op.create_table(
        "space_members",
        sa.Column("space_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'editor', 'owner')", name=op.f("ck_space_members_role")),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_space_members_space_id_spaces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_space_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("space_id", "user_id", name=op.f("pk_space_members")),
    )
    op.create_index(
        "uq_space_members_one_owner",
        "space_members",
        ["space_id"],
        unique=True,
        postgresql_where=sa.text("role = 'owner'"),
    )
    op.create_index(
        "ix_space_members_space_id_joined_at_user_id", "space_members", ["space_id", "joined_at", "user_id"]
    )
    op.create_index(
        "ix_space_members_user_id_joined_at_space_id",
        "space_members",
        ["user_id", sa.text("joined_at DESC"), sa.text("space_id DESC")],
    )
    op.add_column("assets", sa.Column("space_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_assets_space_id_spaces"), "assets", "spaces", ["space_id"], ["id"], ondelete="SET NULL"
    )
    op.create_index(
        "ix_assets_space_id_created_at_id",
        "assets",
        ["space_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("space_id IS NOT NULL"),
    )
    op.add_column("audit_events", sa.Column("space_id", sa.Uuid(), nullable=True))
    op.create_index(
        "ix_audit_events_space_id_created_at_id",
        "audit_events",
        ["space_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("space_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_space_id_created_at_id", table_name="audit_events")
    op.drop_column("audit_events", "space_id")
    op.drop_index("ix_assets_space_id_created_at_id", table_name="assets")
    op.drop_constraint(op.f("fk_assets_space_id_spaces"), "assets", type_="foreignkey")
    op.drop_column("assets", "space_id")
    op.drop_table("space_members")
    op.drop_table("spaces")
