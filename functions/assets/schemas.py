"""Bodies of the assets routes (API.md, Assets and shares)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assets.playback import HLS
from assets.settings import DEFAULT_ASSET_MAX_BYTES
from core import storage
from core.routes import OPEN_SHARE, PLAY_ASSET
from core.schemas import UserSummary
from core.types import JSON_NUMBER, JsonInt, Timestamp

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from assets.sharing import Opened
    from assets.space_access import SpaceView
    from assets.uploads import FreshParts, Progress, Started
    from core.memberships import MemberView

CONTENT_TYPE = r"^(image|video)/[a-z0-9][a-z0-9.+-]{0,100}$"
MAX_TAGS = 20
# No control characters (C0, DEL, C1) and not blank; quotes, slashes and non-ASCII are kept.
FILENAME = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
# Printable, 1..50 characters, not only spaces.
Tag = Annotated[
    str, Field(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$")
]


class Model(BaseModel):
    """Every body of these routes: its validator is built when first used, not at import (a cold
    start serves one route; building all of them cost ~50 ms)."""

    model_config = ConfigDict(defer_build=True)


class Strict(Model):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class UploadIn(Strict):
    filename: str = Field(
        min_length=1, max_length=255, pattern=FILENAME, description="kept as data; never part of a storage key"
    )
    content_type: str = Field(pattern=CONTENT_TYPE, description="image/* or video/*")
    size: JsonInt = Field(
        ge=1,
        # Declared, not validated here: over the stage's limit answers 413 (API.md), not 422.
        json_schema_extra={"maximum": DEFAULT_ASSET_MAX_BYTES},
        description="bytes; over the per-asset limit (5 GiB unless the stage sets another) is 413",
    )
    space_id: uuid.UUID | None = Field(
        default=None,
        description="upload into this shared space (editor+); over its quota is 413 `quota_exceeded`",
    )


class AssetPatch(Strict):
    filename: str | None = Field(default=None, min_length=1, max_length=255, pattern=FILENAME)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS, description="stored trimmed and lower-cased")

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, tags: list[str] | None) -> list[str] | None:
        if tags is None:
            return None
        cleaned: list[str] = []
        for tag in (t.strip().lower() for t in tags):
            if tag not in cleaned:
                cleaned.append(tag)
        return cleaned


class PartIn(Strict):
    part_number: JsonInt = Field(ge=1, le=10_000)
    # The ETag S3 answered for the part (quoted hex, quotes optional): anything else cannot name one.
    etag: str = Field(pattern=r'^"?[0-9a-fA-F]{32}"?$')


class CompleteIn(Strict):
    parts: list[PartIn] = Field(min_length=1, max_length=10_000)


class PartsIn(Strict):
    part_numbers: list[Annotated[int, Field(ge=1, le=10_000)]] = Field(
        min_length=1,
        max_length=100,
        description="parts to sign fresh URLs for (repeats are signed once); a number beyond the upload's "
        "part count (its declared size over its part size) is 409",
    )


class ShareIn(Strict):
    expires_in_seconds: Annotated[int, Field(ge=60, le=30 * 24 * 3600), JSON_NUMBER] | None = Field(
        default=None,
        description="at most 30 days (SHARE_MAX_TTL_S); omitted or null: 7 days (SHARE_DEFAULT_TTL_S)",
    )
    max_downloads: Annotated[int, Field(ge=1, le=1_000_000), JSON_NUMBER] | None = None
    original: bool = Field(
        default=False,
        description="hand out the original file, metadata (GPS) included; by default the link hands out the "
        "metadata-free preview, and an asset without one (videos, HEIC) can only be shared this way (else 409)",
    )


AssetStatus = Literal["pending", "processing", "ready", "quarantined", "failed"]


class VariantOut(Model):
    kind: str
    url: str
    width: int | None
    height: int | None
    content_type: str

    @classmethod
    def of(cls, variant: Row[Any]) -> VariantOut:
        """An image variant: a signed URL (CloudFront where the stage has it, else S3). A video's HLS
        rendition: its playback route (owner only: a share lists none, see `listed`)."""
        return cls(
            kind=variant.kind,
            url=PLAY_ASSET.url(asset_id=variant.asset_id)
            if variant.kind == HLS
            else storage.variant_url(variant.s3_key, variant.version_id),
            width=variant.width,
            height=variant.height,
            content_type=variant.content_type,
        )

    @classmethod
    def listed(cls, variants: Sequence[Row[Any]], *, shared: bool = False) -> list[VariantOut]:
        return [cls.of(v) for v in variants if not (shared and v.kind == HLS)]


class AssetOut(Model):
    id: uuid.UUID
    space_id: uuid.UUID | None = Field(description="the shared space it is in; null: its uploader's personal library")
    filename: str
    content_type: str
    size: int
    status: AssetStatus
    width: int | None
    height: int | None
    duration_s: float | None
    exif: dict[str, Any]
    tags: list[str]
    variants: list[VariantOut]
    created_at: Timestamp

    @classmethod
    def of(cls, asset: Row[Any], variants: Sequence[Row[Any]] = ()) -> AssetOut:
        return cls(
            id=asset.id,
            space_id=asset.space_id,
            filename=asset.filename,
            content_type=asset.content_type,
            size=asset.size,
            status=cast(AssetStatus, asset.status),
            width=asset.width,
            height=asset.height,
            duration_s=asset.duration_s,
            exif=asset.exif,
            tags=asset.tags,
            variants=VariantOut.listed(variants),
            created_at=asset.created_at,
        )


class AssetPage(Model):
    items: list[AssetOut]
    next_cursor: str | None

    @classmethod
    def of(
        cls, assets: Sequence[Row[Any]], variants: dict[uuid.UUID, list[Row[Any]]], next_cursor: str | None
    ) -> AssetPage:
        return cls(items=[AssetOut.of(a, variants[a.id]) for a in assets], next_cursor=next_cursor)


class SingleUpload(Model):
    method: Literal["PUT"] = "PUT"
    url: str
    headers: dict[str, str]
    expires_in: int


class PartUrl(Model):
    part_number: int
    url: str
    size: int = Field(description="the part's exact length in bytes: its Content-Length is signed")


class MultipartUpload(Model):
    upload_id: str
    part_size: int
    parts: list[PartUrl]
    expires_in: int

    @classmethod
    def of(cls, fresh: FreshParts) -> MultipartUpload:
        return cls(
            upload_id=fresh.asset.upload_id or "",
            part_size=fresh.part_size,
            parts=[PartUrl(part_number=n, url=url, size=length) for n, url, length in fresh.part_urls],
            expires_in=fresh.expires_in,
        )


class UploadedPartOut(Model):
    part_number: int
    size: int
    etag: str = Field(description="as S3 answered the part's upload: what .../multipart/complete takes")
    last_modified: Timestamp


class MultipartProgress(Model):
    upload_id: str
    size: int = Field(description="the asset's declared size")
    part_size: int = Field(description="every part's length but the last, which holds the rest")
    parts_total: int = Field(description="how many parts the declared size makes")
    items: list[UploadedPartOut] = Field(description="parts S3 holds, by part number; the missing ones need uploading")
    next_cursor: str | None
    expires_at: Timestamp | None = Field(
        description="when storage aborts the unfinished upload (its lifecycle rule), where storage says"
    )

    @classmethod
    def of(cls, found: Progress) -> MultipartProgress:
        return cls(
            upload_id=found.asset.upload_id or "",
            size=found.asset.size,
            part_size=found.part_size,
            parts_total=found.parts_total,
            items=[
                UploadedPartOut(part_number=p.number, size=p.size, etag=p.etag, last_modified=p.last_modified)
                for p in found.parts
            ],
            next_cursor=found.next_cursor,
            expires_at=found.aborts_at,
        )


class UploadOut(Model):
    asset: AssetOut
    upload: SingleUpload | None = Field(default=None, description="below the multipart threshold (100 MiB)")
    multipart: MultipartUpload | None = Field(default=None, description="at or above the multipart threshold")

    @classmethod
    def of(cls, started: Started) -> UploadOut:
        out = cls(asset=AssetOut.of(started.asset))
        if started.url is not None:
            out.upload = SingleUpload(url=started.url, headers=started.headers or {}, expires_in=started.expires_in)
        else:
            parts = [
                PartUrl(part_number=n, url=url, size=length)
                for n, (url, length) in enumerate(started.part_urls or [], start=1)
            ]
            out.multipart = MultipartUpload(
                upload_id=started.asset.upload_id or "",
                part_size=started.part_size or 0,
                parts=parts,
                expires_in=started.expires_in,
            )
        return out


class DownloadOut(Model):
    url: str
    expires_in: int


class ShareOut(Model):
    id: uuid.UUID
    asset_id: uuid.UUID
    token: str | None = Field(description="only in the answer that creates the share (stored hashed)")
    url: str | None = Field(description="only in the answer that creates the share")
    expires_at: Timestamp = Field(description="every link expires (default 7 days, at most 30)")
    max_downloads: int | None
    original: bool = Field(description="the link hands out the original (else its metadata-free preview)")
    download_count: int
    revoked_at: Timestamp | None
    created_at: Timestamp

    @classmethod
    def of(cls, share: Row[Any], token: str | None = None) -> ShareOut:
        """`token`: only when the share was just made (it is stored hashed)."""
        return cls(
            id=share.id,
            asset_id=share.asset_id,
            token=token,
            url=OPEN_SHARE.url(share=token) if token else None,
            expires_at=share.expires_at,
            max_downloads=share.max_downloads,
            original=share.original,
            download_count=share.download_count,
            revoked_at=share.revoked_at,
            created_at=share.created_at,
        )


class SharePage(Model):
    items: list[ShareOut]
    next_cursor: str | None

    @classmethod
    def of(cls, shares: Sequence[Row[Any]], next_cursor: str | None) -> SharePage:
        return cls(items=[ShareOut.of(s) for s in shares], next_cursor=next_cursor)


class SharedAsset(Model):
    filename: str = Field(description="of the download: the original's name, with the preview's extension")
    content_type: str = Field(description="of the download")
    size: int = Field(description="of the download")
    original: bool = Field(description="the download is the original file (else its metadata-free preview)")
    variants: list[VariantOut]


class SharedOut(Model):
    asset: SharedAsset
    download: DownloadOut

    @classmethod
    def of(cls, opened: Opened) -> SharedOut:
        shared = SharedAsset(
            filename=opened.filename,
            content_type=opened.content_type,
            size=opened.size,
            original=opened.original,
            variants=VariantOut.listed(opened.variants, shared=True),
        )
        return cls(asset=shared, download=DownloadOut(url=opened.url, expires_in=opened.expires_in))


class TypeUsage(Model):
    count: int
    bytes: int


class UsageOut(Model):
    asset_count: int
    total_bytes: int
    by_type: dict[str, TypeUsage]
    downloads_30d: int
    shares_active: int


class AuditOut(Model):
    id: uuid.UUID
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, event: Row[Any]) -> AuditOut:
        return cls(
            id=event.id,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            ip=event.ip,
            created_at=event.created_at,
        )


class AuditPage(Model):
    items: list[AuditOut]
    next_cursor: str | None

    @classmethod
    def of(cls, events: Sequence[Row[Any]], next_cursor: str | None) -> AuditPage:
        return cls(items=[AuditOut.of(e) for e in events], next_cursor=next_cursor)


# ------------------------------------------------------------------ shared spaces (issue 20)

SpaceRole = Literal["viewer", "editor", "owner"]
GrantableRole = Literal["viewer", "editor"]
QUOTA_MAX = 10**15  # bytes (1 PB): exact as a JSON number (below 2**53), and sums stay within BIGINT


Quota = Annotated[int, Field(ge=0, le=QUOTA_MAX), JSON_NUMBER]


class SpaceIn(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=FILENAME)
    quota_bytes: Quota | None = Field(
        default=None,
        description="optional byte quota; omitted: the stage's default (SPACE_DEFAULT_QUOTA_BYTES, none unless "
        "set); null: no quota",
    )


class SpacePatch(Strict):
    """Only the fields sent change; `quota_bytes: null` lifts the quota."""

    name: str = Field(default=None, min_length=1, max_length=100, pattern=FILENAME)  # type: ignore[assignment]
    quota_bytes: Quota | None = Field(default=None, description="null lifts the quota")


class SpaceOut(Model):
    id: uuid.UUID
    name: str
    my_role: SpaceRole
    quota_bytes: int | None = Field(description="null: no quota")
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, space: SpaceView) -> SpaceOut:
        return cls.model_validate(space, from_attributes=True)


class SpacePage(Model):
    items: list[SpaceOut]
    next_cursor: str | None

    @classmethod
    def of(cls, spaces: list[SpaceView], next_cursor: str | None) -> SpacePage:
        return cls(items=[SpaceOut.of(s) for s in spaces], next_cursor=next_cursor)


class SpaceMemberIn(Strict):
    username: str = Field(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_]+$")
    role: GrantableRole = Field(description="below your own role: the owner grants viewer or editor, an editor viewer")


class SpaceRoleIn(Strict):
    role: GrantableRole = Field(description="below your own role; owner only by transfer (PATCH .../owner)")


class SpaceOwnerIn(Strict):
    user_id: uuid.UUID = Field(description="a member of the space; the old owner becomes editor")


class SpaceMemberOut(Model):
    user: UserSummary
    role: SpaceRole
    joined_at: Timestamp

    @classmethod
    def of(cls, found: MemberView) -> SpaceMemberOut:
        user = UserSummary(id=found.user_id, username=found.username, avatar_url=found.avatar_url)
        return cls.model_validate({"user": user, "role": found.role, "joined_at": found.joined_at})


class SpaceMemberPage(Model):
    items: list[SpaceMemberOut]
    next_cursor: str | None

    @classmethod
    def of(cls, members: list[MemberView], next_cursor: str | None) -> SpaceMemberPage:
        return cls(items=[SpaceMemberOut.of(m) for m in members], next_cursor=next_cursor)


class MoveIn(Strict):
    space_id: uuid.UUID | None = Field(
        description="the space to move the asset into (editor+ there), or null for its uploader's personal library; "
        "the asset's share links are revoked"
    )


class SpaceUsageOut(Model):
    asset_count: int
    total_bytes: int = Field(description="bytes of the space's assets, uploads in progress included")
    by_type: dict[str, TypeUsage]
    used_bytes: int = Field(description="counted against the quota: stored assets")
    reserved_bytes: int = Field(description="counted against the quota: multipart uploads in progress")
    quota_bytes: int | None
    downloads: int = Field(description="download URLs issued and share links opened, of the space's assets")
    downloads_30d: int
    shares_active: int


class SpaceAuditOut(Model):
    id: uuid.UUID
    action: str
    user_id: uuid.UUID | None = Field(description="who did it (the link's creator for share.accessed)")
    target_type: str | None
    target_id: str | None
    data: dict[str, Any]
    ip: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, event: Row[Any]) -> SpaceAuditOut:
        return cls.model_validate(event, from_attributes=True)


class SpaceAuditPage(Model):
    items: list[SpaceAuditOut]
    next_cursor: str | None

    @classmethod
    def of(cls, events: Sequence[Row[Any]], next_cursor: str | None) -> SpaceAuditPage:
        return cls(items=[SpaceAuditOut.of(e) for e in events], next_cursor=next_cursor)
