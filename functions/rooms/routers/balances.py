"""Balance routes (issue 19.4): my AI token balance and its ledger. Mine only: no path names a user,
so another user's balance is unreachable. Tokens are added by the operator (`make grant`), never
through the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router

from core import db, scopes
from core.http import caller, route
from core.lazy import lazy_module
from core.routes import MY_BALANCE, MY_BALANCE_TRANSACTIONS
from core.schemas import Limit, cursor_query

if TYPE_CHECKING:
    from core import balances
    from rooms.schemas import balances as schemas
else:
    schemas = lazy_module("rooms.schemas.balances")  # its bodies, built on the first request of these routes
    balances = lazy_module("core.balances")  # SQL, audit: loaded on the first balance request

router = Router()

TransactionCursor = Annotated[str | None, cursor_query(scopes.BALANCE_TRANSACTIONS)]


@route(
    router,
    MY_BALANCE,
    summary="My AI token balance: the AI of the rooms I am master of is charged to it",
    description="Each AI reply in a room is charged to the room's master: its input and output tokens (the "
    "provider's usage figures). A request to invoke the AI is refused with 402 `insufficient_balance` when "
    "the master's balance cannot cover its estimate. Changes arrive as `balance.changed` WebSocket events.",
    tags=["balances"],
)
def my_balance() -> schemas.BalanceOut:
    return schemas.BalanceOut.of(db.read(balances.balance_of, caller(router).user_id))


@route(
    router, MY_BALANCE_TRANSACTIONS, summary="My balance's ledger (grants and charges), newest first", tags=["balances"]
)
def my_balance_transactions(limit: Limit = 20, cursor: TransactionCursor = None) -> schemas.BalanceTransactionPage:
    found, next_cursor = db.read(balances.transactions, caller(router).user_id, limit, cursor)
    return schemas.BalanceTransactionPage.of(found, next_cursor)
