"""ai_jobs: every AI reply job admitted to call its provider (issue #19, billing)

Revision ID: 0022_ai_jobs
Revises: 0021_room_images_unsent
Create Date: 2026-12-05

The ai_steps `start` step records each job it lets call the provider. A job that loses its message
while it streams (the reply regenerated, however many times, or deleted) is then charged what it
used (core.balances), and only a recorded job is: a forged or misdirected job id never is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_ai_jobs"
down_revision = "0021_room_images_unsent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_jobs",
        sa.Column("job_id", sa.Uuid(), primary_key=True),
        sa.Column("room_id", sa.Uuid(), sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.Uuid(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_ai_jobs_message_id", "ai_jobs", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_ai_jobs_message_id", table_name="ai_jobs")
    op.drop_table("ai_jobs")
