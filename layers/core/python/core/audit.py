"""Appends to the audit trail inside the caller's transaction (same commit, same fate)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert

from core.models.audit import audit_event_table

if TYPE_CHECKING:
    from core.db import AnySession

# Built once, values bound per call: one compiled shape.
_INSERT = insert(audit_event_table)


def record(
    session: AnySession,
    action: str,
    *,
    user_id: uuid.UUID | None,
    ip: str | None = None,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    space_id: uuid.UUID | None = None,
) -> None:
    values = {
        "user_id": user_id,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "ip": ip,
        "space_id": space_id,
        "data": data or {},
    }
    if isinstance(session, Connection):
        session.execute(_INSERT, values)  # one INSERT, now
        return
    # Transitional, for callers still on an ORM Session: added, flushed with the rest (batched).
    from core.orm.audit import AuditEvent

    session.add(AuditEvent(**values))
