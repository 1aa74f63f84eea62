"""Bodies of the assets routes (API.md, Assets and shares): what they share (the deferred `Model`
base, names and tags) and the asset objects themselves. Each other router's bodies live in a module
of this package named after it (assets.schemas.uploads, .sharing, .reports, .spaces), which its
router loads on its first request: a cold start serves one route."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import storage
from core.keys import HLS_VARIANT as HLS
from core.routes import PLAY_ASSET
from core.types import Timestamp

if TYPE_CHECKING:
    from sqlalchemy.engine import Row


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


class DownloadOut(Model):
    url: str
    expires_in: int


class TypeUsage(Model):
    count: int
    bytes: int
