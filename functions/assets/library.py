"""The library: find, list and search, rename and tag, delete; a user's personal assets, and the
assets of the shared spaces they are members of (who may do what: assets.space_access)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, select
from sqlalchemy import update as update_
from sqlalchemy.engine import Row

from assets import scopes
from assets.settings import AssetSettings
from core import storage
from core.errors import Conflict
from core.lazy import lazy_module
from core.models.assets import asset_table, variant_table
from core.pagination import keyset, page_of

if TYPE_CHECKING:
    from assets import quota, space_access
    from core import audit
else:  # a page of my library needs none of them: spaces, quota and audit load with the first change
    audit = lazy_module("core.audit")
    quota = lazy_module("assets.quota")
    space_access = lazy_module("assets.space_access")

SCOPE = scopes.ASSETS
SPACE_SCOPE = scopes.SPACE_ASSETS

Variants = dict[uuid.UUID, list[Row[Any]]]


@dataclass(frozen=True)
class Filters:
    """The search and filters of GET /assets (and of a space's assets)."""

    q: str | None = None
    content_type: str | None = None
    tag: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def owned(
    session: Connection, asset_id: uuid.UUID, user_id: uuid.UUID, at_least: str | None = None, *, lock: bool = False
) -> Row[Any]:
    """The asset, if the caller may act on it at `at_least` (default: viewer): their own personal
    asset, or one in a space where they hold that role (403 below it). Anything they cannot see is 404."""
    role = at_least or space_access.VIEWER
    return space_access.asset_for(session, asset_id, user_id, role, lock=lock).asset


def personal(owner_id: uuid.UUID) -> Any:
    """The assets of a user's personal library (not those they uploaded into spaces)."""
    return (asset_table.c.owner_id == owner_id) & asset_table.c.space_id.is_(None)


def variants_of(session: Connection, asset_ids: list[uuid.UUID]) -> Variants:
    """One statement for a whole page."""
    found: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
    if asset_ids:
        variant = variant_table.c
        for row in session.execute(select(variant_table).where(variant.asset_id.in_(asset_ids)).order_by(variant.kind)):
            found[row.asset_id].append(row)
    return found


def download_url(session: Connection, asset_id: uuid.UUID, user_id: uuid.UUID, ip: str) -> tuple[str, int]:
    """A short-lived URL of the original and its lifetime in seconds (ready assets only), audited
    (in the asset's space too). Viewer+ of a space's asset."""
    ttl = AssetSettings.current().download_url_ttl_s
    asset = owned(session, asset_id, user_id)
    if asset.status != "ready":
        raise Conflict(f"The asset is {asset.status}; only ready assets can be downloaded")
    # Pinned to the version the pipeline scanned: whatever was written to the key since is never served.
    url = storage.presigned_get(asset.s3_key, ttl, storage.attachment(asset.filename), asset.version_id)
    audit.record(
        session,
        "asset.download_url_issued",
        user_id=user_id,
        ip=ip,
        target_type="asset",
        target_id=asset.id,
        space_id=asset.space_id,
    )
    return url, ttl


def search(
    session: Connection, where: Any, *, scope: str = SCOPE, limit: int, cursor: str | None, filters: Filters
) -> tuple[list[Row[Any]], str | None]:
    """`where` picks the library: `personal(user_id)`, or `asset_table.c.space_id == space_id`."""
    asset = asset_table.c
    query = select(asset_table).where(where)
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(asset.filename.ilike(f"%{escaped}%", escape="\\"))
    if filters.content_type:
        if filters.content_type.endswith("/*"):
            query = query.where(asset.content_type.startswith(filters.content_type[:-1], autoescape=True))
        else:
            query = query.where(asset.content_type == filters.content_type)
    if filters.tag:
        query = query.where(asset.tags.contains([filters.tag.strip().lower()]))
    if filters.created_from:
        query = query.where(asset.created_at >= filters.created_from)
    if filters.created_to:
        query = query.where(asset.created_at < filters.created_to)
    query = keyset(query, (asset.created_at, asset.id), scope, cursor, limit)
    return page_of(list(session.execute(query).all()), limit, scope, lambda a: (a.created_at, a.id))


# The reads below run through core.db.read: no writes, no locks. Their statements each see what
# was committed when they start (READ COMMITTED, as inside a transaction): an asset deleted between
# a page and its variants is listed without variants.


def page(
    session: Connection, where: Any, *, scope: str = SCOPE, limit: int, cursor: str | None, filters: Filters
) -> tuple[list[Row[Any]], Variants, str | None]:
    """A page of `search`, with the variants of its assets, and the cursor after it."""
    found, next_cursor = search(session, where, scope=scope, limit=limit, cursor=cursor, filters=filters)
    return found, variants_of(session, [a.id for a in found]), next_cursor


def space_page(
    session: Connection, space_id: uuid.UUID, user_id: uuid.UUID, *, limit: int, cursor: str | None, filters: Filters
) -> tuple[list[Row[Any]], Variants, str | None]:
    """A page of a space's assets (viewer+; 404 for non-members)."""
    space_access.space_for(session, space_id, user_id)
    where = asset_table.c.space_id == space_id
    return page(session, where, scope=SPACE_SCOPE, limit=limit, cursor=cursor, filters=filters)


def shown(session: Connection, asset_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Row[Any], list[Row[Any]]]:
    """One asset the caller may see (viewer+ of a space's), with its variants."""
    asset = owned(session, asset_id, user_id)
    return asset, variants_of(session, [asset.id])[asset.id]


def update(
    session: Connection, asset_id: uuid.UUID, user_id: uuid.UUID, filename: str | None, tags: list[str] | None
) -> Row[Any]:
    """Editor+ of a space's asset. Nothing changed, nothing written (updated_at stays)."""
    asset = owned(session, asset_id, user_id, space_access.EDITOR, lock=True)
    values: dict[str, Any] = {}
    if filename is not None and filename != asset.filename:
        values["filename"] = filename
    if tags is not None and tags != asset.tags:
        values["tags"] = tags
    if not values:
        return asset
    statement = update_(asset_table).where(asset_table.c.id == asset.id).values(**values).returning(asset_table)
    return session.execute(statement).one()


def remove(session: Connection, asset_id: uuid.UUID, user_id: uuid.UUID, ip: str) -> list[str]:
    """Delete the rows (variants and shares go by cascade); return the object keys to purge after commit.
    Editor+ of a space's asset; its bytes are given back to the space.

    Objects go after the commit: a failure then leaves an orphan object (tagged for
    expiry), never a row pointing at a missing object.
    """
    asset = owned(session, asset_id, user_id, space_access.EDITOR, lock=True)
    variant = variant_table.c
    keys = [asset.s3_key, *session.scalars(select(variant.s3_key).where(variant.asset_id == asset.id))]
    if asset.upload_id:
        storage.abort_multipart(asset.s3_key, asset.upload_id)
    quota.release(session, asset)
    session.execute(delete(asset_table).where(asset_table.c.id == asset.id))
    audit.record(
        session,
        "asset.deleted",
        user_id=user_id,
        ip=ip,
        target_type="asset",
        target_id=asset.id,
        space_id=asset.space_id,
        data={"filename": asset.filename},
    )
    return keys


def purge_objects(keys: list[str]) -> None:
    for key in storage.delete_objects(keys):
        # Already unreachable (no row points at it); the lifecycle rule removes a tagged object later.
        with suppress(Exception):
            storage.tag_deleted(key)
