"""rooms: each member's last read seq, for unread counts (issue 18.5)

Revision ID: 0011_last_read_seq
Revises: 0010_post_images
Create Date: 2026-12-04

Existing members start with everything read up to now (their room's last_seq), so the deploy
does not turn every room's whole history into unread messages. app_rw reaches the column through
its table privileges (0009).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_last_read_seq"
down_revision = "0010_post_images"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("room_members", sa.Column("last_read_seq", sa.BigInteger(), server_default="0", nullable=False))
    op.create_check_constraint(op.f("ck_room_members_last_read_seq_not_negative"), "room_members", "last_read_seq >= 0")
    op.execute("UPDATE room_members m SET last_read_seq = r.last_seq FROM rooms r WHERE r.id = m.room_id")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_room_members_last_read_seq_not_negative"), "room_members", type_="check")
    op.drop_column("room_members", "last_read_seq")
