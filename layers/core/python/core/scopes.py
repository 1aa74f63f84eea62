"""Cursor scopes of lists whose paging lives in core: a route declares its `?cursor=` pattern from
these at import without importing the logic that pages (core.lazy)."""

BALANCE_TRANSACTIONS = "balance-transactions"
