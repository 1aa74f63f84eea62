"""Bodies of the report routes: my library's usage and my audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.types import Timestamp

if TYPE_CHECKING:
    from sqlalchemy.engine import Row


from assets.schemas import Model, TypeUsage


class UsageOut(Model):
    asset_count: int
    total_bytes: int
    by_type: dict[str, TypeUsage]
    downloads_30d: int
    shares_active: int


class AuditOut(Model):
    id: uuid.UUID
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, event: Row[Any]) -> AuditOut:
        return cls(
            id=event.id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            ip=event.ip,
            created_at=event.created_at,
        )


class AuditPage(Model):
    items: list[AuditOut]
    next_cursor: str | None

    @classmethod
    def of(cls, events: Sequence[Row[Any]], next_cursor: str | None) -> AuditPage:
        return cls(items=[AuditOut.of(e) for e in events], next_cursor=next_cursor)
