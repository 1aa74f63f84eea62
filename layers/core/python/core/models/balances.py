"""AI token balances (issue 19.4): what each user holds, and the ledger of every change to it.

The room's master pays for the room's AI: each AI call is a `charge` against the master's balance,
an operator's `make grant` a `grant`, a user's first balance a `welcome` grant (BALANCES_WELCOME_TOKENS).
The balance never goes below zero (a CHECK, and core.balances' one conditional UPDATE); the ledger
is append-only by use and sums to the balance. One charge per AI job (`job_id` unique), so a
redelivered job never charges twice.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, ForeignKey, Index, String, Table, func, text
from sqlalchemy.types import Uuid

from core.models.base import metadata, uuid_pk

TRANSACTION_KINDS = ("welcome", "grant", "charge")
MAX_BALANCE = 10**12  # tokens one user may hold; a grant past it is refused

balance_table = Table(
    "balances",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("tokens", BigInteger, nullable=False, server_default="0", default=0),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("updated_at", DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False),
    CheckConstraint(f"tokens >= 0 AND tokens <= {MAX_BALANCE}", name="tokens_range"),
)

balance_transaction_table = Table(
    "balance_transactions",
    metadata,
    uuid_pk(),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    # What the balance changed by (a charge is negative) and what it was afterwards.
    Column("delta", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    # A charge: the provider's usage figures (estimated for echo); `shortfall` is the part of the
    # usage the balance could not cover (the charge took the balance down to zero).
    Column("input_tokens", BigInteger, nullable=True),
    Column("output_tokens", BigInteger, nullable=True),
    Column("shortfall", BigInteger, nullable=False, server_default="0", default=0),
    Column("provider", String(32), nullable=True),
    Column("model", String(200), nullable=True),
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True),
    Column("message_id", Uuid, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
    # The AI job charged: one charge per job, whatever the queue redelivers.
    Column("job_id", Uuid, nullable=True, unique=True),
    # A grant: who granted it (the operator's name, as given to `make grant`) and why.
    Column("actor", String(200), nullable=True),
    Column("note", String(200), nullable=True),
    # clock_timestamp: a welcome grant and the charge that created it, in one transaction, stay in order.
    Column("created_at", DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False),
    CheckConstraint(f"kind IN {TRANSACTION_KINDS!r}", name="kind"),
    CheckConstraint("(kind = 'charge') = (delta <= 0)", name="delta_sign"),
    CheckConstraint(
        "balance_after >= 0 AND shortfall >= 0 AND coalesce(input_tokens, 0) >= 0 AND coalesce(output_tokens, 0) >= 0",
        name="not_negative",
    ),
    CheckConstraint("kind = 'charge' OR job_id IS NULL", name="job_only_for_charges"),
    # GET /me/balance/transactions: mine, newest first (keyset).
    Index("ix_balance_transactions_user_id_created_at_id", "user_id", text("created_at DESC"), text("id DESC")),
)
