"""Uploads straight to S3: one presigned PUT below the threshold, presigned multipart parts above it."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from assets.library import owned
from core import storage
from core.config import get_settings
from core.errors import Conflict, PayloadTooLarge
from core.models.assets import Asset

MAX_PARTS = 10_000
MIB = 1024 * 1024


@dataclass(frozen=True)
class Started:
    asset: Asset
    url: str | None = None
    headers: dict[str, str] | None = None
    part_size: int | None = None
    part_urls: list[tuple[str, int]] | None = None  # (url, the part's exact length)
    expires_in: int = 0


def asset_key(owner_id: uuid.UUID, asset_id: uuid.UUID) -> str:
    """Keys are generated; the filename never becomes part of one."""
    return f"assets/{owner_id}/{asset_id}"


def part_size_for(size: int, preferred: int) -> int:
    """The preferred part size, grown (in whole MiB) until the upload fits in 10,000 parts."""
    needed = math.ceil(size / MAX_PARTS)
    return max(preferred, math.ceil(needed / MIB) * MIB)


def part_lengths(size: int, part_size: int) -> list[int]:
    """Every part is `part_size` bytes but the last, which holds the rest."""
    count = math.ceil(size / part_size)
    return [part_size] * (count - 1) + [size - part_size * (count - 1)]


def start(session: Session, owner_id: uuid.UUID, filename: str, content_type: str, size: int) -> Started:
    settings = get_settings()
    if size > settings.asset_max_bytes:
        raise PayloadTooLarge(f"Assets are at most {settings.asset_max_bytes} bytes")
    asset_id = uuid.uuid4()
    key = asset_key(owner_id, asset_id)
    ttl = settings.upload_url_ttl_s
    asset = Asset(id=asset_id, owner_id=owner_id, s3_key=key, filename=filename, content_type=content_type, size=size)
    if size < settings.multipart_threshold_bytes:
        url, headers = storage.presigned_put(key, content_type, size, ttl)
        session.add(asset)
        session.flush()
        session.refresh(asset)
        return Started(asset, url=url, headers=headers, expires_in=ttl)
    part_size = part_size_for(size, settings.multipart_part_bytes)
    asset.upload_id = storage.create_multipart(key, content_type)
    session.add(asset)
    session.flush()
    session.refresh(asset)
    lengths = part_lengths(size, part_size)
    urls = [
        (storage.presigned_part(key, asset.upload_id, n, length, ttl), length)
        for n, length in enumerate(lengths, start=1)
    ]
    return Started(asset, part_size=part_size, part_urls=urls, expires_in=ttl)


def complete(session: Session, asset_id: uuid.UUID, owner_id: uuid.UUID, parts: list[tuple[int, str]]) -> Asset:
    asset = owned(session, asset_id, owner_id, lock=True)
    if not asset.upload_id:
        raise Conflict("No multipart upload is in progress for this asset")
    try:
        storage.complete_multipart(asset.s3_key, asset.upload_id, parts)
    except storage.MultipartRejected as exc:  # the parts S3 holds, not the body's shape: a state conflict
        raise Conflict(f"The uploaded parts do not form the object (S3: {exc})") from exc
    actual = storage.object_size(asset.s3_key)
    asset.upload_id = None
    if actual is not None and actual > get_settings().asset_max_bytes:
        storage.delete_objects([asset.s3_key])
        session.execute(delete(Asset).where(Asset.id == asset.id))
        raise PayloadTooLarge("The uploaded object is over the per-asset limit", keep_writes=True)
    if actual is not None:
        asset.size = actual
    session.flush()
    session.refresh(asset)
    return asset


def abort(session: Session, asset_id: uuid.UUID, owner_id: uuid.UUID) -> None:
    """Abort the S3 upload and forget the asset: nothing of it was ever stored."""
    asset = owned(session, asset_id, owner_id, lock=True)
    if not asset.upload_id:
        raise Conflict("No multipart upload is in progress for this asset")
    storage.abort_multipart(asset.s3_key, asset.upload_id)
    session.execute(delete(Asset).where(Asset.id == asset.id))
