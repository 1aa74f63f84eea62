"""rooms: AI replies generated asynchronously, `pending` until the worker ends them (issue 18.4)

Revision ID: 0015_ai_pending
Revises: 0014_groups
Create Date: 2026-12-04

A pending AI message carries the job that may end it (`job_id`: a redelivered or superseded job
changes nothing) and the time after which it counts as failed (`pending_until`), so no reply is
ever stuck in `pending`. app_rw reaches the columns through its table privileges (0009).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_ai_pending"
down_revision = "0014_groups"
branch_labels = None
depends_on = None

PENDING_HAS_A_JOB = "status <> 'pending' OR (job_id IS NOT NULL AND pending_until IS NOT NULL)"


def upgrade() -> None:
    op.add_column("messages", sa.Column("job_id", sa.Uuid(), nullable=True))
    op.add_column("messages", sa.Column("pending_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint(op.f("ck_messages_status"), "messages", type_="check")
    op.create_check_constraint(op.f("ck_messages_status"), "messages", "status IN ('pending', 'completed', 'failed')")
    op.create_check_constraint(op.f("ck_messages_pending_has_a_job"), "messages", PENDING_HAS_A_JOB)


def downgrade() -> None:
    op.execute("UPDATE messages SET status = 'failed' WHERE status = 'pending'")
    op.drop_constraint(op.f("ck_messages_pending_has_a_job"), "messages", type_="check")
    op.drop_constraint(op.f("ck_messages_status"), "messages", type_="check")
    op.create_check_constraint(op.f("ck_messages_status"), "messages", "status IN ('completed', 'failed')")
    op.drop_column("messages", "pending_until")
    op.drop_column("messages", "job_id")
