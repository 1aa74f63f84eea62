"""What the owner has and what happened to it: usage and the audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal_column, or_, select
from sqlalchemy.engine import Row

from assets import scopes
from assets.library import personal
from assets.space_access import OWNER, space_for
from core.errors import NotFound
from core.models.assets import asset_table, share_table
from core.models.audit import audit_event_table
from core.models.spaces import space_table
from core.pagination import keyset, page_of

AUDIT_SCOPE = scopes.AUDIT
SPACE_AUDIT_SCOPE = scopes.SPACE_AUDIT
DOWNLOAD_ACTIONS = ("asset.download_url_issued", "share.accessed")


def _by_type(session: Connection, where: Any) -> dict[str, dict[str, int]]:
    # Literal arguments, so SELECT and GROUP BY are the same expression (bound ones would differ).
    asset = asset_table.c
    kind = func.split_part(asset.content_type, literal_column("'/'"), literal_column("1"))
    return {
        row.kind: {"count": int(row.n), "bytes": int(row.bytes)}
        for row in session.execute(
            select(kind.label("kind"), func.count().label("n"), func.coalesce(func.sum(asset.size), 0).label("bytes"))
            .where(where)
            .group_by(kind)
        )
    }


def _live() -> Any:
    share = share_table.c
    return and_(
        share.revoked_at.is_(None),
        or_(share.expires_at.is_(None), share.expires_at > func.now()),
        case((share.max_downloads.is_(None), True), else_=share.download_count < share.max_downloads),
    )


def usage(session: Connection, owner_id: uuid.UUID) -> dict[str, Any]:
    """The personal library (the assets the user uploaded into spaces count in the spaces')."""
    by_type = _by_type(session, personal(owner_id))
    since = datetime.now(UTC) - timedelta(days=30)
    event = audit_event_table.c
    downloads = session.scalar(
        select(func.count())
        .select_from(audit_event_table)
        .where(event.user_id == owner_id, event.action.in_(DOWNLOAD_ACTIONS), event.created_at >= since)
    )
    active = session.scalar(
        select(func.count()).select_from(share_table).where(share_table.c.owner_id == owner_id, _live())
    )
    return {
        "asset_count": sum(t["count"] for t in by_type.values()),
        "total_bytes": sum(t["bytes"] for t in by_type.values()),
        "by_type": by_type,
        "downloads_30d": downloads or 0,
        "shares_active": active or 0,
    }


def audit_trail(
    session: Connection, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    event = audit_event_table.c
    query = select(audit_event_table).where(event.user_id == user_id)
    query = keyset(query, (event.created_at, event.id), AUDIT_SCOPE, cursor, limit)
    return page_of(list(session.execute(query).all()), limit, AUDIT_SCOPE, lambda e: (e.created_at, e.id))


def space_usage(session: Connection, space_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
    """Viewer+: what the space holds, its counters against its quota, how its assets are used."""
    space_for(session, space_id, user_id)
    space, asset, event = space_table.c, asset_table.c, audit_event_table.c
    counters = session.execute(
        select(space.used_bytes, space.reserved_bytes, space.quota_bytes).where(space.id == space_id)
    ).first()
    if counters is None:  # deleted since space_for saw it (each statement sees its own moment)
        raise NotFound("Space not found")
    by_type = _by_type(session, asset.space_id == space_id)
    since = datetime.now(UTC) - timedelta(days=30)
    in_space = and_(event.space_id == space_id, event.action.in_(DOWNLOAD_ACTIONS))
    downloads = session.execute(
        select(
            func.count().label("total"),
            func.count().filter(event.created_at >= since).label("recent"),
        ).where(in_space)
    ).one()
    active = session.scalar(
        select(func.count())
        .select_from(share_table)
        .join(asset_table, asset.id == share_table.c.asset_id)
        .where(asset.space_id == space_id, _live())
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
    session: Connection, space_id: uuid.UUID, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    """Owner only: everything done in the space, newest first."""
    space_for(session, space_id, user_id, at_least=OWNER)
    event = audit_event_table.c
    query = select(audit_event_table).where(event.space_id == space_id)
    query = keyset(query, (event.created_at, event.id), SPACE_AUDIT_SCOPE, cursor, limit)
    return page_of(list(session.execute(query).all()), limit, SPACE_AUDIT_SCOPE, lambda e: (e.created_at, e.id))
