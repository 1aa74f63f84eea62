"""Bodies of the share-link routes: make, list, revoke and open a link."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from core.routes import OPEN_SHARE
from core.types import JSON_NUMBER, Timestamp

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from assets.sharing import Opened

from assets.schemas import DownloadOut, Model, Strict, VariantOut


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
