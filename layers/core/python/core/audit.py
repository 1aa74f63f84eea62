"""Appends to the audit trail inside the caller's transaction (same commit, same fate)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert

from core.models.audit import audit_event_table

# Built once, values bound per call: one compiled shape.
_INSERT = insert(audit_event_table)


def event(
    action: str,
    *,
    user_id: uuid.UUID | None,
    ip: str | None = None,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    space_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """One audit row's values (`record`, or several at once with `record_all`)."""
    return {
        "user_id": user_id,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "ip": ip,
        "space_id": space_id,
        "data": data or {},
    }


def record(
    session: Connection,
    action: str,
    *,
    user_id: uuid.UUID | None,
    ip: str | None = None,
    target_type: str | None = None,
    target_id: str | uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    space_id: uuid.UUID | None = None,
) -> None:
    values = event(
        action, user_id=user_id, ip=ip, target_type=target_type, target_id=target_id, data=data, space_id=space_id
    )
    session.execute(_INSERT, values)  # one INSERT, now


def record_all(session: Connection, events: list[dict[str, Any]]) -> None:
    """Several events (`event`) in one INSERT of as many rows (none: no statement)."""
    if events:
        session.execute(insert(audit_event_table).values([{"id": uuid.uuid4(), **values} for values in events]))
