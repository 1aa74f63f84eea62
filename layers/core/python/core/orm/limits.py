"""Transitional ORM classes on the Core tables of core.models.limits (removed once no caller uses them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped

from core.models.limits import rate_limit_window_table
from core.orm.base import Base

__all__ = ["RateLimitWindow"]


class RateLimitWindow(Base):
    __table__ = rate_limit_window_table

    key: Mapped[str]
    window_start: Mapped[datetime]
    count: Mapped[int]
