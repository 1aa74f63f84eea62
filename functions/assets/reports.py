"""What the owner has and what happened to it: usage and the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from assets.library import personal
from assets.space_access import OWNER, space_for
from core.orm.assets import Asset, Share
from core.orm.audit import AuditEvent
from core.orm.spaces import Space
from core.pagination import keyset, page_of

AUDIT_SCOPE = "audit"
SPACE_AUDIT_SCOPE = "space-audit"
DOWNLOAD_ACTIONS = ("asset.download_url_issued", "share.accessed")


def _by_type(session: Session, where: Any) -> dict[str, dict[str, int]]:
    # Literal arguments, so SELECT and GROUP BY are the same expression (bound ones would differ).
    kind = func.split_part(Asset.content_type, literal_column("'/'"), literal_column("1"))
    return {
        row.kind: {"count": int(row.n), "bytes": int(row.bytes)}
        for row in session.execute(
            select(kind.label("kind"), func.count().label("n"), func.coalesce(func.sum(Asset.size), 0).label("bytes"))
            .where(where)
            .group_by(kind)
        )
    }


def _live() -> Any:
    return and_(
        Share.revoked_at.is_(None),
        or_(Share.expires_at.is_(None), Share.expires_at > func.now()),
        case((Share.max_downloads.is_(None), True), else_=Share.download_count < Share.max_downloads),
    )


def usage(session: Session, owner_id: uuid.UUID) -> dict[str, Any]:
    """The personal library (the assets the user uploaded into spaces count in the spaces')."""
    by_type = _by_type(session, personal(owner_id))
    since = datetime.now(UTC) - timedelta(days=30)
    downloads = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.user_id == owner_id, AuditEvent.action.in_(DOWNLOAD_ACTIONS), AuditEvent.created_at >= since)
    )
    active = session.scalar(select(func.count()).select_from(Share).where(Share.owner_id == owner_id, _live()))
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


def space_usage(session: Session, space_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
    """Viewer+: what the space holds, its counters against its quota, how its assets are used."""
    space_for(session, space_id, user_id)
    counters = session.execute(
        select(Space.used_bytes, Space.reserved_bytes, Space.quota_bytes).where(Space.id == space_id)
    ).one()
    by_type = _by_type(session, Asset.space_id == space_id)
    since = datetime.now(UTC) - timedelta(days=30)
    in_space = and_(AuditEvent.space_id == space_id, AuditEvent.action.in_(DOWNLOAD_ACTIONS))
    downloads = session.execute(
        select(
            func.count().label("total"),
            func.count().filter(AuditEvent.created_at >= since).label("recent"),
        ).where(in_space)
    ).one()
    active = session.scalar(
        select(func.count())
        .select_from(Share)
        .join(Asset, Asset.id == Share.asset_id)
        .where(Asset.space_id == space_id, _live())
    )
    return {
        "asset_count": sum(t["count"] for t in by_type.values()),
        "total_bytes": sum(t["bytes"] for t in by_type.values()),
        "by_type": by_type,
        "used_bytes": int(counters.used_bytes),
        "reserved_bytes": int(counters.reserved_bytes),
        "quota_bytes": counters.quota_bytes,
        "downloads": downloads.total or 0,
        "downloads_30d": downloads.recent or 0,
        "shares_active": active or 0,
    }


def space_audit(
    session: Session, space_id: uuid.UUID, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[AuditEvent], str | None]:
    """Owner only: everything done in the space, newest first."""
    space_for(session, space_id, user_id, at_least=OWNER)
    query = select(AuditEvent).where(AuditEvent.space_id == space_id)
    query = keyset(query, (AuditEvent.created_at, AuditEvent.id), SPACE_AUDIT_SCOPE, cursor, limit)
    return page_of(list(session.scalars(query)), limit, SPACE_AUDIT_SCOPE, lambda e: (e.created_at, e.id))
