"""What the owner has and what happened to it: usage and the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from core.models.assets import Asset, Share
from core.models.audit import AuditEvent
from core.pagination import keyset, page_of

AUDIT_SCOPE = "audit"
DOWNLOAD_ACTIONS = ("asset.download_url_issued", "share.accessed")


def usage(session: Session, owner_id: uuid.UUID) -> dict[str, Any]:
    # Literal arguments, so SELECT and GROUP BY are the same expression (bound ones would differ).
    kind = func.split_part(Asset.content_type, literal_column("'/'"), literal_column("1"))
    by_type = {
        row.kind: {"count": row.count, "bytes": int(row.bytes)}
        for row in session.execute(
            select(
                kind.label("kind"), func.count().label("count"), func.coalesce(func.sum(Asset.size), 0).label("bytes")
            )
            .where(Asset.owner_id == owner_id)
            .group_by(kind)
        )
    }
    since = datetime.now(UTC) - timedelta(days=30)
    downloads = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.user_id == owner_id, AuditEvent.action.in_(DOWNLOAD_ACTIONS), AuditEvent.created_at >= since)
    )
    active = session.scalar(
        select(func.count())
        .select_from(Share)
        .where(
            Share.owner_id == owner_id,
            Share.revoked_at.is_(None),
            or_(Share.expires_at.is_(None), Share.expires_at > func.now()),
            case((Share.max_downloads.is_(None), True), else_=Share.download_count < Share.max_downloads),
        )
    )
    return {
        "asset_count": sum(t["count"] for t in by_type.values()),
        "total_bytes": sum(t["bytes"] for t in by_type.values()),
        "by_type": by_type,
        "downloads_30d": downloads or 0,
        "shares_active": active or 0,
    }


def audit_trail(
    session: Session, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[AuditEvent], str | None]:
    query = select(AuditEvent).where(AuditEvent.user_id == user_id)
    query = keyset(query, (AuditEvent.created_at, AuditEvent.id), AUDIT_SCOPE, cursor, limit)
    return page_of(list(session.scalars(query)), limit, AUDIT_SCOPE, lambda e: (e.created_at, e.id))
