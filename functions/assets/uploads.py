"""Uploads straight to S3: one presigned PUT below the threshold, presigned multipart parts above it.

A multipart upload can be resumed: `progress` lists the parts S3 already holds, and
`fresh_part_urls` signs new part URLs (the first ones expire after UPLOAD_URL_TTL_S) exactly as
`start` signed the first ones.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, update
from sqlalchemy.engine import Row

from assets import quota, scopes
from assets.settings import AssetSettings
from assets.space_access import EDITOR, asset_for, space_for
from core import audit, keys, storage
from core.errors import Conflict, PayloadTooLarge
from core.models.assets import asset_table
from core.pagination import decode_cursor, encode_cursor

MAX_PARTS = 10_000
MIB = 1024 * 1024
PARTS_SCOPE = scopes.MULTIPART_PARTS
PARTS_CURSOR = scopes.MULTIPART_PARTS_KEY


@dataclass(frozen=True)
class Started:
    asset: Row[Any]
    url: str | None = None
    headers: dict[str, str] | None = None
    part_size: int | None = None
    part_urls: list[tuple[str, int]] | None = None  # (url, the part's exact length)
    expires_in: int = 0


def part_size_for(size: int, preferred: int) -> int:
    """The preferred part size, grown (in whole MiB) until the upload fits in 10,000 parts."""
    needed = math.ceil(size / MAX_PARTS)
    return max(preferred, math.ceil(needed / MIB) * MIB)


def part_lengths(size: int, part_size: int) -> list[int]:
    """Every part is `part_size` bytes but the last, which holds the rest."""
    count = math.ceil(size / part_size)
    return [part_size] * (count - 1) + [size - part_size * (count - 1)]


def _part_urls(key: str, upload_id: str, lengths: dict[int, int], ttl: int) -> list[tuple[int, str, int]]:
    """(part number, URL, length) per part: each URL signs its part's exact Content-Length."""
    return [(n, storage.presigned_part(key, upload_id, n, length, ttl), length) for n, length in lengths.items()]


def start(
    session: Connection,
    owner_id: uuid.UUID,
    filename: str,
    content_type: str,
    size: int,
    space_id: uuid.UUID | None = None,
    ip: str | None = None,
) -> Started:
    """Into the caller's personal library, or into `space_id` (editor+), whose quota counts the
    declared size from now on (413 quota_exceeded if it does not fit)."""
    settings = AssetSettings.current()
    if size > settings.asset_max_bytes:
        raise PayloadTooLarge(f"Assets are at most {settings.asset_max_bytes} bytes")
    multipart = size >= settings.multipart_threshold_bytes
    if space_id is not None:
        space_for(session, space_id, owner_id, at_least=EDITOR)
        quota.take(session, space_id, size, multipart=multipart)
    asset_id = uuid.uuid4()
    key = keys.asset_key(owner_id, asset_id)  # generated: the filename never becomes part of a key
    ttl = storage.StorageSettings.current().upload_url_ttl_s
    row = {
        "id": asset_id,
        "owner_id": owner_id,
        "space_id": space_id,
        "s3_key": key,
        "filename": filename,
        "content_type": content_type,
        "size": size,
    }
    if space_id is not None:
        audit.record(
            session,
            "asset.upload_started",
            user_id=owner_id,
            ip=ip,
            target_type="asset",
            target_id=asset_id,
            space_id=space_id,
            data={"size": size},
        )
    if not multipart:
        url, headers = storage.presigned_put(key, content_type, size, ttl)
        asset = session.execute(insert(asset_table).values(row).returning(asset_table)).one()
        return Started(asset, url=url, headers=headers, expires_in=ttl)
    part_size = part_size_for(size, settings.multipart_part_bytes)
    upload_id = storage.create_multipart(key, content_type)
    asset = session.execute(insert(asset_table).values({**row, "upload_id": upload_id}).returning(asset_table)).one()
    lengths = dict(enumerate(part_lengths(size, part_size), start=1))
    urls = [(url, length) for _, url, length in _part_urls(key, upload_id, lengths, ttl)]
    return Started(asset, part_size=part_size, part_urls=urls, expires_in=ttl)


def _uploading(session: Connection, asset_id: uuid.UUID, owner_id: uuid.UUID, *, lock: bool = False) -> Row[Any]:
    """The uploader's asset (editor+ still, in a space)."""
    return asset_for(session, asset_id, owner_id, EDITOR, lock=lock, uploader=True).asset


def complete(session: Connection, asset_id: uuid.UUID, owner_id: uuid.UUID, parts: list[tuple[int, str]]) -> Row[Any]:
    """In a space, the quota is checked again: the actual bytes move from reserved to used only if
    the space's used bytes stay within its quota (one conditional UPDATE, assets.quota.settle), so
    concurrent completions cannot overshoot it; one that does not fit is refused and forgotten."""
    asset = _uploading(session, asset_id, owner_id, lock=True)
    if not asset.upload_id:
        raise Conflict("No multipart upload is in progress for this asset")
    try:
        storage.complete_multipart(asset.s3_key, asset.upload_id, parts)
    except storage.MultipartRejected as exc:  # the parts S3 holds, not the body's shape: a state conflict
        raise Conflict(f"The uploaded parts do not form the object (S3: {exc})") from exc
    actual = storage.object_size(asset.s3_key)
    declared, size = asset.size, actual if actual is not None else asset.size
    if size > AssetSettings.current().asset_max_bytes:
        _forget(session, asset)
        raise PayloadTooLarge("The uploaded object is over the per-asset limit", keep_writes=True)
    if asset.space_id is not None and not quota.settle(session, asset.space_id, declared, size):
        _forget(session, asset, released=True)
        raise quota.exceeded(keep_writes=True)
    completed = update(asset_table).where(asset_table.c.id == asset.id).values(upload_id=None, size=size)
    return session.execute(completed.returning(asset_table)).one()


def _forget(session: Connection, asset: Row[Any], *, released: bool = False) -> None:
    """A completed upload that is refused: its object and row go, its reservation is given back."""
    storage.delete_objects([asset.s3_key])
    if not released:
        quota.release(session, asset)
    session.execute(delete(asset_table).where(asset_table.c.id == asset.id))


def abort(session: Connection, asset_id: uuid.UUID, owner_id: uuid.UUID) -> None:
    """Abort the S3 upload and forget the asset: nothing of it was ever stored."""
    asset = _uploading(session, asset_id, owner_id, lock=True)
    if not asset.upload_id:
        raise Conflict("No multipart upload is in progress for this asset")
    storage.abort_multipart(asset.s3_key, asset.upload_id)
    quota.release(session, asset)
    session.execute(delete(asset_table).where(asset_table.c.id == asset.id))


# ------------------------------------------------------------------ resuming a multipart upload


@dataclass(frozen=True)
class Progress:
    asset: Row[Any]
    part_size: int
    parts_total: int
    parts: list[storage.UploadedPart]  # this page of the parts S3 holds
    next_cursor: str | None
    aborts_at: datetime | None


@dataclass(frozen=True)
class FreshParts:
    asset: Row[Any]
    part_size: int
    part_urls: list[tuple[int, str, int]]  # (part number, URL, the part's exact length)
    expires_in: int


def _in_progress(session: Connection, asset_id: uuid.UUID, owner_id: uuid.UUID) -> Row[Any]:
    asset = _uploading(session, asset_id, owner_id)
    if not asset.upload_id:
        raise Conflict("No multipart upload is in progress for this asset")
    return asset


def _listing(asset: Row[Any], after: int, limit: int) -> storage.PartListing:
    try:
        return storage.list_parts(asset.s3_key, asset.upload_id or "", after=after, limit=limit)
    except storage.NoSuchUpload as exc:  # aborted by the lifecycle rule (a day after it started)
        raise Conflict(
            "The multipart upload no longer exists in storage; abort it (DELETE .../multipart) and start again"
        ) from exc


def _fits(size: int, part_size: int, held: list[storage.UploadedPart]) -> bool:
    if part_size < 1 or math.ceil(size / part_size) > MAX_PARTS:
        return False
    lengths = part_lengths(size, part_size)
    return all(p.number <= len(lengths) and p.size == lengths[p.number - 1] for p in held)


def layout(size: int, held: list[storage.UploadedPart]) -> int:
    """The upload's part size: chosen from the declared size as `start` chose it, unless the parts
    S3 holds (each exactly the length its URL signed) show the upload started with another part
    size (MULTIPART_PART_BYTES changed since); then the size of its full parts."""
    preferred = part_size_for(size, AssetSettings.current().multipart_part_bytes)
    for candidate in (preferred, max((p.size for p in held), default=preferred)):
        if _fits(size, candidate, held):
            return candidate
    raise Conflict("The parts in storage do not match this upload's part sizes; abort it and start again")


def progress(session: Connection, asset_id: uuid.UUID, owner_id: uuid.UUID, limit: int, cursor: str | None) -> Progress:
    """A page of the parts S3 holds for the asset's upload, in part-number order (ListParts)."""
    asset = _in_progress(session, asset_id, owner_id)
    after = int(decode_cursor(PARTS_SCOPE, cursor, PARTS_CURSOR)[0]) if cursor else 0
    # A position before the first part is the start; one past every part number, the end.
    listing = _listing(asset, max(after, 0), limit) if after < MAX_PARTS else storage.PartListing([], False, None)
    part_size = layout(asset.size, listing.parts)
    next_cursor = encode_cursor(PARTS_SCOPE, (listing.parts[-1].number,)) if listing.more and listing.parts else None
    return Progress(
        asset=asset,
        part_size=part_size,
        parts_total=len(part_lengths(asset.size, part_size)),
        parts=listing.parts,
        next_cursor=next_cursor,
        aborts_at=listing.aborts_at,
    )


def fresh_part_urls(session: Connection, asset_id: uuid.UUID, owner_id: uuid.UUID, numbers: list[int]) -> FreshParts:
    """New part URLs for an upload whose first ones expired, signed as `start` signs them: the
    part's exact length, the same TTL. Only part numbers the declared size has are signed."""
    settings = AssetSettings.current()
    asset = _in_progress(session, asset_id, owner_id)
    if asset.size > settings.asset_max_bytes:  # the limit was lowered since the upload started
        raise PayloadTooLarge(f"Assets are at most {settings.asset_max_bytes} bytes")
    # The first page of held parts: proves the upload still exists and shows its part size.
    part_size = layout(asset.size, _listing(asset, 0, 1000).parts)
    lengths = part_lengths(asset.size, part_size)
    beyond = sorted({n for n in numbers if n > len(lengths)})
    if beyond:
        raise Conflict(
            f"This upload has {len(lengths)} parts",
            details=[
                {"field": "part_numbers", "in": "body", "message": f"part {n} is beyond the upload's {len(lengths)}"}
                for n in beyond
            ],
        )
    wanted = {n: lengths[n - 1] for n in sorted(set(numbers))}
    ttl = storage.StorageSettings.current().upload_url_ttl_s
    return FreshParts(asset, part_size, _part_urls(asset.s3_key, asset.upload_id or "", wanted, ttl), ttl)
