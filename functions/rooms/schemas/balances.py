"""Bodies of the balance routes (issue 19.4): my AI token balance and its ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from core.types import Timestamp
from rooms.schemas import Model

if TYPE_CHECKING:
    from core.balances import Balance

TransactionKind = Literal["welcome", "grant", "charge"]


class BalanceOut(Model):
    """My AI token balance: what the AI of the rooms I am master of may still spend."""

    tokens: int = Field(ge=0)
    updated_at: Timestamp | None = Field(description="its last change; null: never changed (the welcome amount)")

    @classmethod
    def of(cls, balance: Balance) -> BalanceOut:
        return cls(tokens=balance.tokens, updated_at=balance.updated_at)


class BalanceTransactionOut(Model):
    """One change of my balance: a `welcome` or operator `grant`, or the `charge` of one AI reply."""

    id: uuid.UUID
    kind: TransactionKind
    delta: int = Field(description="what the balance changed by (a charge is negative)")
    balance_after: int = Field(ge=0)
    input_tokens: int | None = Field(ge=0, description="a charge: the call's input tokens (provider usage)")
    output_tokens: int | None = Field(ge=0, description="a charge: the call's output tokens (provider usage)")
    shortfall: int = Field(ge=0, description="a charge: tokens used beyond what the balance held (not charged)")
    provider: str | None
    model: str | None
    room_id: uuid.UUID | None
    message_id: uuid.UUID | None = Field(description="a charge: the AI message it paid for")
    note: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, row: Any) -> BalanceTransactionOut:
        return cls(
            id=row.id,
            kind=row.kind,
            delta=row.delta,
            balance_after=row.balance_after,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            shortfall=row.shortfall,
            provider=row.provider,
            model=row.model,
            room_id=row.room_id,
            message_id=row.message_id,
            note=row.note,
            created_at=row.created_at,
        )


class BalanceTransactionPage(Model):
    items: list[BalanceTransactionOut]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: Sequence[Any], next_cursor: str | None) -> BalanceTransactionPage:
        return cls(items=[BalanceTransactionOut.of(r) for r in rows], next_cursor=next_cursor)
