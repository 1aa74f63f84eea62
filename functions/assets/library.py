"""The owner's library: find, list and search, rename and tag, delete."""

from __future__ import annotations

import uuid
from collections import defaultdict
from contextlib import suppress
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from assets.settings import AssetSettings
from core import audit, storage
from core.errors import Conflict, NotFound
from core.models.assets import Asset, Variant
from core.pagination import keyset, page_of

SCOPE = "assets"


def owned(session: Session, asset_id: uuid.UUID, owner_id: uuid.UUID, *, lock: bool = False) -> Asset:
    """The caller's asset; anyone else's is indistinguishable from a missing one."""
    query = select(Asset).where(Asset.id == asset_id, Asset.owner_id == owner_id)
    if lock:
        query = query.with_for_update()
    asset = session.scalars(query).first()
    if asset is None:
        raise NotFound("Asset not found")
    return asset


def variants_of(session: Session, asset_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Variant]]:
    """One statement for a whole page."""
    found: dict[uuid.UUID, list[Variant]] = defaultdict(list)
    if asset_ids:
        for variant in session.scalars(select(Variant).where(Variant.asset_id.in_(asset_ids)).order_by(Variant.kind)):
            found[variant.asset_id].append(variant)
    return found


def download_url(session: Session, asset_id: uuid.UUID, owner_id: uuid.UUID, ip: str) -> tuple[str, int]:
    """A short-lived URL of the original and its lifetime in seconds (ready assets only), audited."""
    ttl = AssetSettings.current().download_url_ttl_s
    asset = owned(session, asset_id, owner_id)
    if asset.status != "ready":
        raise Conflict(f"The asset is {asset.status}; only ready assets can be downloaded")
    # Pinned to the version the pipeline scanned: whatever was written to the key since is never served.
    url = storage.presigned_get(asset.s3_key, ttl, storage.attachment(asset.filename), asset.version_id)
    audit.record(session, "asset.download_url_issued", user_id=owner_id, ip=ip, target_type="asset", target_id=asset.id)
    return url, ttl


def search(
    session: Session,
    owner_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    q: str | None = None,
    content_type: str | None = None,
    tag: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> tuple[list[Asset], str | None]:
    query = select(Asset).where(Asset.owner_id == owner_id)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Asset.filename.ilike(f"%{escaped}%", escape="\\"))
    if content_type:
        if content_type.endswith("/*"):
            query = query.where(Asset.content_type.startswith(content_type[:-1], autoescape=True))
        else:
            query = query.where(Asset.content_type == content_type)
    if tag:
        query = query.where(Asset.tags.contains([tag.strip().lower()]))
    if created_from:
        query = query.where(Asset.created_at >= created_from)
    if created_to:
        query = query.where(Asset.created_at < created_to)
    query = keyset(query, (Asset.created_at, Asset.id), SCOPE, cursor, limit)
    return page_of(list(session.scalars(query)), limit, SCOPE, lambda a: (a.created_at, a.id))


def update(
    session: Session, asset_id: uuid.UUID, owner_id: uuid.UUID, filename: str | None, tags: list[str] | None
) -> Asset:
    asset = owned(session, asset_id, owner_id, lock=True)
    if filename is not None:
        asset.filename = filename
    if tags is not None:
        asset.tags = tags
    session.flush()
    session.refresh(asset)
    return asset


def remove(session: Session, asset_id: uuid.UUID, owner_id: uuid.UUID, ip: str) -> list[str]:
    """Delete the rows (variants and shares go by cascade); return the object keys to purge after commit.

    Objects go after the commit: a failure then leaves an orphan object (tagged for
    expiry), never a row pointing at a missing object.
    """
    asset = owned(session, asset_id, owner_id, lock=True)
    keys = [asset.s3_key, *session.scalars(select(Variant.s3_key).where(Variant.asset_id == asset.id))]
    if asset.upload_id:
        storage.abort_multipart(asset.s3_key, asset.upload_id)
    session.execute(delete(Asset).where(Asset.id == asset.id))
    audit.record(
        session,
        "asset.deleted",
        user_id=owner_id,
        ip=ip,
        target_type="asset",
        target_id=asset.id,
        data={"filename": asset.filename},
    )
    return keys


def purge_objects(keys: list[str]) -> None:
    for key in storage.delete_objects(keys):
        # Already unreachable (no row points at it); the lifecycle rule removes a tagged object later.
        with suppress(Exception):
            storage.tag_deleted(key)
