"""Fixed-window rate-limit counters kept in PostgreSQL (no extra service)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table

from core.models.base import metadata

rate_limit_window_table = Table(
    "rate_limit_windows",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("count", Integer, nullable=False, default=0),
)
