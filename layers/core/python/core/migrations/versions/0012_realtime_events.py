"""realtime: the room events outbox and each room's event position (issue 18.3, 18.6)

Revision ID: 0012_realtime_events
Revises: 0011_last_read_seq
Create Date: 2026-12-04

app_rw reaches the new table through the default privileges (0009).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_realtime_events"
down_revision = "0011_last_read_seq"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rooms", sa.Column("last_event", sa.BigInteger(), server_default="0", nullable=False))
    op.create_table(
        "realtime_events",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("only_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_realtime_events_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "position", name=op.f("pk_realtime_events")),
    )


def downgrade() -> None:
    op.drop_table("realtime_events")
    op.drop_column("rooms", "last_event")
