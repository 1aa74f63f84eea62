"""Share links: a random token stored hashed, revocable at once, counted atomically.

A link hands out the asset's metadata-free preview (no EXIF, so no GPS) unless its owner shared
the original explicitly; what has no preview (videos, HEIC) is shared only as the original.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.engine import Row

from assets import scopes
from assets.library import owned, variants_of
from assets.settings import AssetSettings
from assets.space_access import OWNER
from core import audit, ratelimit, storage
from core.errors import Conflict, NotFound, ValidationFailed
from core.models.assets import RENDITION_TYPES, SHARED_RENDITIONS, asset_table, share_table, variant_table
from core.models.spaces import space_member_table
from core.pagination import keyset, page_of
from core.tokens import digest, new_token

SCOPE = scopes.SHARES
UNSHAREABLE = ("quarantined", "failed")


@dataclass(frozen=True)
class Created:
    share: Row[Any]
    token: str


@dataclass(frozen=True)
class Access:
    share: Row[Any]
    asset: Row[Any]


@dataclass(frozen=True)
class Opened:
    """What an opened link hands out: the original or its metadata-free rendition, as a download."""

    filename: str
    content_type: str
    size: int
    original: bool
    url: str
    expires_in: int
    variants: list[Row[Any]]  # the asset's, for the answer's previews


def create(
    session: Connection,
    asset_id: uuid.UUID,
    owner_id: uuid.UUID,
    expires_in_s: int | None,
    max_downloads: int | None,
    ip: str,
    original: bool = False,
) -> Created:
    settings = AssetSettings.current()
    longest = settings.share_max_ttl_s
    if expires_in_s is not None and expires_in_s > longest:
        message = f"at most {longest} seconds"
        detail = {"field": "expires_in_seconds", "in": "body", "message": message, "type": "less_than_equal"}
        raise ValidationFailed(details=[detail])
    # No link is permanent: without a lifetime it gets the default (never over the maximum).
    lifetime = expires_in_s if expires_in_s is not None else min(settings.share_default_ttl_s, longest)
    ratelimit.hit(session, f"share-create:{owner_id}", settings.share_create_per_minute)
    # The owner of a space's asset; locked, so a move (which revokes its links) cannot pass it unseen.
    asset = owned(session, asset_id, owner_id, OWNER, lock=True)
    if asset.status in UNSHAREABLE:
        raise Conflict(f"A {asset.status} asset cannot be shared")
    if not original and asset.content_type not in RENDITION_TYPES:
        raise Conflict(
            f"A {asset.content_type} asset has no metadata-free preview to share; "
            'share the original explicitly ("original": true), metadata included'
        )
    token, token_hash = new_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)
    share = session.execute(
        insert(share_table)
        .values(
            id=uuid.uuid4(),
            asset_id=asset.id,
            owner_id=owner_id,
            token_hash=token_hash,
            expires_at=expires_at,
            max_downloads=max_downloads,
            original=original,
        )
        .returning(share_table)
    ).one()
    audit.record(
        session,
        "share.created",
        user_id=owner_id,
        ip=ip,
        target_type="share",
        target_id=share.id,
        space_id=asset.space_id,
        data={"asset_id": str(asset.id)},
    )
    return Created(share, token)


def of_asset(
    session: Connection, asset_id: uuid.UUID, owner_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    owned(session, asset_id, owner_id, OWNER)
    share = share_table.c
    query = select(share_table).where(share.asset_id == asset_id)
    query = keyset(query, (share.created_at, share.id), SCOPE, cursor, limit)
    return page_of(list(session.execute(query).all()), limit, SCOPE, lambda s: (s.created_at, s.id))


def revoke(session: Connection, share_id: uuid.UUID, user_id: uuid.UUID, ip: str) -> None:
    """By the link's creator, or by the owner of the space its asset is in."""
    share, asset, member = share_table.c, asset_table.c, space_member_table.c
    owns_the_space = share.asset_id.in_(
        select(asset.id).join(
            space_member_table,
            and_(member.space_id == asset.space_id, member.user_id == user_id, member.role == OWNER),
        )
    )
    found = session.execute(
        select(share.revoked_at, asset.space_id)
        .join(asset_table, asset.id == share.asset_id)
        .where(share.id == share_id, or_(share.owner_id == user_id, owns_the_space))
    ).first()
    if found is None:
        raise NotFound("Share not found")
    if found.revoked_at is None:
        session.execute(update(share_table).where(share.id == share_id).values(revoked_at=func.now()))
        audit.record(
            session,
            "share.revoked",
            user_id=user_id,
            ip=ip,
            target_type="share",
            target_id=share_id,
            space_id=found.space_id,
        )


def access(session: Connection, token: str, ip: str) -> Access:
    """Count one download if the share is usable; every unusable share looks the same (404).

    Every attempt counts against the client's rate limit, misses included: the 404 keeps its hit
    (keep_writes), so guessing tokens ends in 429 like any other hammering."""
    ratelimit.hit(session, f"share-access:{ip}", AssetSettings.current().share_access_per_minute_per_ip)
    if not 20 <= len(token) <= 100:  # no token we issue looks like this
        raise NotFound("No such share", keep_writes=True)
    now = func.now()
    share, asset, variant = share_table.c, asset_table.c, variant_table.c
    counted = session.execute(
        update(share_table)
        .where(
            share.token_hash == digest(token),
            share.revoked_at.is_(None),
            share.expires_at > now,
            or_(share.max_downloads.is_(None), share.download_count < share.max_downloads),
            share.asset_id.in_(select(asset.id).where(asset.status == "ready")),
            # What the link hands out must exist: the original, or a metadata-free rendition.
            or_(
                share.original,
                share.asset_id.in_(select(variant.asset_id).where(variant.kind.in_(SHARED_RENDITIONS))),
            ),
        )
        .values(download_count=share.download_count + 1)
        .returning(share_table)
    ).first()
    if counted is None:
        raise NotFound("No such share", keep_writes=True)
    shared = session.execute(select(asset_table).where(asset.id == counted.asset_id)).one()
    audit.record(
        session,
        "share.accessed",
        user_id=counted.owner_id,
        ip=ip,
        target_type="share",
        target_id=counted.id,
        space_id=shared.space_id,
    )
    return Access(counted, shared)


def open_link(session: Connection, token: str, ip: str) -> Opened:
    """Open a share link (public): count the download (`access`), then a short-lived URL of what it hands out."""
    ttl = AssetSettings.current().download_url_ttl_s
    found = access(session, token, ip)
    asset = found.asset
    variants = variants_of(session, [asset.id])[asset.id]
    # Every URL is pinned to a version the pipeline made or scanned.
    if found.share.original:
        name, content_type, size = asset.filename, asset.content_type, asset.size
        url = storage.presigned_get(asset.s3_key, ttl, storage.attachment(name), asset.version_id)
    else:  # the metadata-free preview (access() counted the download only if it exists)
        shown = rendition(variants)
        if shown is None:  # deleted since access() saw it
            raise NotFound("No such share", keep_writes=True)
        name = rendition_filename(asset.filename, shown.content_type)
        content_type, size = shown.content_type, shown.size
        url = storage.presigned_get(shown.s3_key, ttl, storage.attachment(name), shown.version_id)
    return Opened(name, content_type, size, found.share.original, url, ttl, variants)


def rendition(variants: list[Row[Any]]) -> Row[Any] | None:
    """The variant a link hands out instead of the original: the preview, else the thumb."""
    by_kind = {v.kind: v for v in variants}
    return next((by_kind[kind] for kind in SHARED_RENDITIONS if kind in by_kind), None)


def rendition_filename(filename: str, content_type: str) -> str:
    """The original's name with the rendition's extension (holiday.png -> holiday.jpg)."""
    extension = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}.get(content_type, "")
    stem, dot, _ = filename.rpartition(".")
    return f"{stem if dot and stem else filename}{extension}"
