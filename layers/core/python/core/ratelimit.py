"""Fixed-window rate limits in PostgreSQL: one upsert per hit, no extra service."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import text

from core.errors import RateLimited

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

_HIT = text(
    "INSERT INTO rate_limit_windows (key, window_start, count) VALUES (:key, :start, 1) "
    "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_windows.count + 1 "
    "RETURNING count"
)


def hit(session: Connection, key: str, limit: int, window_s: int = 60, now: float | None = None) -> None:
    """Count one attempt; over the limit, RateLimited with the seconds left in the window.

    The attempt is counted even when refused (keep_writes), so hammering does not reset it.
    """
    now = time.time() if now is None else now
    start = math.floor(now / window_s) * window_s
    count = session.execute(_HIT, {"key": key[:200], "start": datetime.fromtimestamp(start, UTC)}).scalar_one()
    if count > limit:
        raise RateLimited(math.ceil(start + window_s - now), "Rate limit exceeded", keep_writes=True)


def hit_all(
    session: Connection, limits: Sequence[tuple[str, int]], window_s: int = 60, now: float | None = None
) -> None:
    """`hit` for several (distinct) keys in one statement: every one is counted; over any limit,
    RateLimited (keep_writes) with the seconds left in the window."""
    if not limits:
        return
    now = time.time() if now is None else now
    start = datetime.fromtimestamp(math.floor(now / window_s) * window_s, UTC)
    keys = [key[:200] for key, _ in limits]
    if len(set(keys)) != len(keys):
        raise ValueError("rate-limit keys of one hit_all must be distinct")
    rows = ", ".join(f"(:key{i}, :start, 1)" for i in range(len(keys)))
    statement = text(
        f"INSERT INTO rate_limit_windows (key, window_start, count) VALUES {rows} "  # noqa: S608 - placeholders only
        "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_windows.count + 1 RETURNING key, count"
    )
    params: dict[str, object] = {"start": start, **{f"key{i}": key for i, key in enumerate(keys)}}
    counts: dict[str, int] = {key: int(count) for key, count in session.execute(statement, params)}
    if any(counts[key] > limit for key, (_, limit) in zip(keys, limits, strict=True)):
        raise RateLimited(math.ceil(start.timestamp() + window_s - now), "Rate limit exceeded", keep_writes=True)
