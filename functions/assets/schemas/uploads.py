"""Bodies of the upload routes: single and multipart uploads, their progress."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from assets.settings import DEFAULT_ASSET_MAX_BYTES
from core.types import JsonInt, Timestamp

if TYPE_CHECKING:
    from assets.uploads import FreshParts, Progress, Started

from assets.schemas import CONTENT_TYPE, FILENAME, AssetOut, Model, Strict


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
