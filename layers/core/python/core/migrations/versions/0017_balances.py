"""AI token balances (issue 19.4): one balance per user, never negative, and its ledger

Revision ID: 0017_balances
Revises: 0016_room_forks
Create Date: 2026-12-04

`balances` holds what a user may spend on their rooms' AI (the room's master pays); `tokens` is
checked to stay within 0..MAX_BALANCE, so no interleaving of charges can drive it below zero.
`balance_transactions` is the ledger: welcome and operator grants, and one charge per AI job
(`job_id` unique). app_rw reaches both tables through the default privileges (0009).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_balances"
down_revision = "0016_room_forks"
branch_labels = None
depends_on = None

NOW = sa.func.now()
MAX_BALANCE = 10**12


def upgrade() -> None:
    op.create_table(
        "balances",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(f"tokens >= 0 AND tokens <= {MAX_BALANCE}", name=op.f("ck_balances_tokens_range")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_balances_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_balances")),
    )
    op.create_table(
        "balance_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("shortfall", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("room_id", sa.Uuid(), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.clock_timestamp(), nullable=False),
        sa.CheckConstraint("kind IN ('welcome', 'grant', 'charge')", name=op.f("ck_balance_transactions_kind")),
        sa.CheckConstraint("(kind = 'charge') = (delta <= 0)", name=op.f("ck_balance_transactions_delta_sign")),
        sa.CheckConstraint(
            "balance_after >= 0 AND shortfall >= 0 AND coalesce(input_tokens, 0) >= 0 "
            "AND coalesce(output_tokens, 0) >= 0",
            name=op.f("ck_balance_transactions_not_negative"),
        ),
        sa.CheckConstraint(
            "kind = 'charge' OR job_id IS NULL", name=op.f("ck_balance_transactions_job_only_for_charges")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_balance_transactions_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_balance_transactions_room_id_rooms"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_balance_transactions_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balance_transactions")),
        sa.UniqueConstraint("job_id", name=op.f("uq_balance_transactions_job_id")),
    )
    op.create_index(
        "ix_balance_transactions_user_id_created_at_id",
        "balance_transactions",
        ["user_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_table("balance_transactions")
    op.drop_table("balances")
