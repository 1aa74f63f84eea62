"""rooms: forks (issue 19.1): where a room was forked from, whether it is read-only, and the copy job

Revision ID: 0016_room_forks
Revises: 0015_ai_pending
Create Date: 2026-12-04

A fork is a new room whose conversation is copied from another one, up to a seq, by the
room_forks worker in batches. Until the copy completes the new room is archived (`archived_at`):
reads work, posting answers 409. `room_forks` is the job: one row per forked room, its cursor
(the source seq copied through) advanced in each batch's own transaction. app_rw reaches the new
table through the default privileges (0009).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_room_forks"
down_revision = "0015_ai_pending"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.add_column("rooms", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("rooms", sa.Column("forked_from_room_id", sa.Uuid(), nullable=True))
    op.add_column("rooms", sa.Column("forked_at_seq", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_rooms_forked_from_room_id_rooms"),
        "rooms",
        "rooms",
        ["forked_from_room_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(op.f("ck_rooms_forked_at_seq_not_negative"), "rooms", "forked_at_seq >= 0")
    op.create_table(
        "room_forks",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("source_room_id", sa.Uuid(), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("up_to_seq", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("copied", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cursor_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(16), server_default="copying", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("status IN ('copying', 'completed', 'failed')", name=op.f("ck_room_forks_status")),
        sa.CheckConstraint(
            "copied >= 0 AND cursor_seq >= 0 AND total >= 0 AND up_to_seq >= 0", name=op.f("ck_room_forks_counts")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_forks_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_room_id"], ["rooms.id"], name=op.f("fk_room_forks_source_room_id_rooms"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_room_forks_requested_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_room_forks")),
    )


def downgrade() -> None:
    op.drop_table("room_forks")
    op.drop_constraint(op.f("ck_rooms_forked_at_seq_not_negative"), "rooms", type_="check")
    op.drop_constraint(op.f("fk_rooms_forked_from_room_id_rooms"), "rooms", type_="foreignkey")
    op.drop_column("rooms", "forked_at_seq")
    op.drop_column("rooms", "forked_from_room_id")
    op.drop_column("rooms", "archived_at")
