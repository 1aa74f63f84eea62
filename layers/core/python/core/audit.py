"""Appends to the audit trail inside the caller's transaction (same commit, same fate)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from core.orm.audit import AuditEvent

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def record(
    session: Session,
    action: str,
    *,
    user_id: uuid.UUID | None,
    ip: str | None = None,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    space_id: uuid.UUID | None = None,
) -> None:
    session.add(
        AuditEvent(
            user_id=user_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            ip=ip,
            space_id=space_id,
            data=data or {},
        )
    )
