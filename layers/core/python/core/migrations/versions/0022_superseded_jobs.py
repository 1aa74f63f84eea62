"""messages: the AI job a regenerate superseded (issue #19, billing)

Revision ID: 0022_superseded_jobs
Revises: 0021_room_images_unsent
Create Date: 2026-12-05

A reply regenerated while its provider streams takes a new job; the old one is charged what it used
(core.balances) only if it really was this message's job: `superseded_job_id` keeps the job the
last regenerate replaced, so a forged or misdirected job id is never charged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_superseded_jobs"
down_revision = "0021_room_images_unsent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("superseded_job_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "superseded_job_id")
