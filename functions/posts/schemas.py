"""Bodies of the posts routes (API.md, Posts)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core import storage
from core.keys import POST_IMAGE_KEY_SHAPE
from core.schemas import JsonBody, UserSummary
from core.types import JsonInt, Timestamp
from posts.settings import DEFAULT_POST_IMAGE_MAX_BYTES

if TYPE_CHECKING:
    from posts.logic import PostRow

ImageType = Literal["image/jpeg", "image/png", "image/gif"]


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=280)
    image_key: str | None = Field(
        default=None,
        pattern=POST_IMAGE_KEY_SHAPE,
        description="from POST /posts/upload-url, uploaded; omitted on PUT removes it. "
        "Another user's key is 403, one with nothing (yet) uploaded or a refused image 409, too large 413",
    )


class UploadUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: ImageType
    size: JsonInt = Field(
        ge=1,
        # Declared, not validated here: over the stage's limit answers 413 (API.md), not 422.
        json_schema_extra={"maximum": DEFAULT_POST_IMAGE_MAX_BYTES},
        description="bytes; at most 10 MiB (unless the stage sets another), else 413",
    )


class PresignedPost(BaseModel):
    method: Literal["POST"] = "POST"
    url: str
    fields: dict[str, str]


class UploadUrlOut(BaseModel):
    image_key: str
    upload: PresignedPost
    expires_in: int

    @classmethod
    def of(cls, image_key: str, presigned: dict[str, Any], expires_in: int) -> UploadUrlOut:
        upload = PresignedPost(url=presigned["url"], fields=presigned["fields"])
        return cls(image_key=image_key, upload=upload, expires_in=expires_in)


ImageStatus = Literal["processing", "ready", "refused"]


class PostImageVariant(BaseModel):
    """A metadata-free JPEG the media pipeline made of the post image (no EXIF, no GPS)."""

    kind: Literal["preview", "thumb"] = Field(description="preview: longest side 1280 px; thumb: 256 px")
    url: str = Field(
        description="short-lived (CloudFront-signed where the stage has the CDN, else a presigned S3 GET), "
        "pinned to the variant's version"
    )
    width: int | None
    height: int | None
    content_type: str


class PostOut(JsonBody):
    id: uuid.UUID
    author: UserSummary
    content: str
    image_status: ImageStatus | None = Field(
        description="null: no image; processing: scanned and resized first, no URL yet; ready; "
        "refused: malware, not the declared type or undecodable, never shown"
    )
    image_url: str | None = Field(
        description="the preview variant (1280 px, no metadata) once `image_status` is ready, else null; "
        "never the uploaded original"
    )
    image_variants: list[PostImageVariant] = Field(description="the sizes once ready, else empty")
    likes_count: int
    comments_count: int
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, row: PostRow) -> PostOut:
        return cls.model_validate(_fields(row))


class PostPage(JsonBody):
    items: list[PostOut]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: Sequence[PostRow], next_cursor: str | None) -> PostPage:
        # One validation for the page (pydantic-core), not two model constructions per post.
        return cls.model_validate({"items": [_fields(r) for r in rows], "next_cursor": next_cursor})


def _image(image_key: str | None, status: str | None, variants: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Only the pipeline's variants are ever shown, never the original (its EXIF may hold GPS)."""
    if image_key is None:
        return {"image_status": None, "image_url": None, "image_variants": []}
    if status != "ready":  # no row yet or claimed: processing; refused stays refused
        return {
            "image_status": status if status == "refused" else "processing",
            "image_url": None,
            "image_variants": [],
        }
    shown = [
        {
            "kind": v["kind"],
            "url": storage.variant_url(v["key"], v.get("version_id")),
            "width": v.get("width"),
            "height": v.get("height"),
            "content_type": v["content_type"],
        }
        for v in variants or ()
    ]
    url = next((v["url"] for v in shown if v["kind"] == "preview"), None)
    return {"image_status": "ready", "image_url": url, "image_variants": shown}


def _fields(row: PostRow) -> dict[str, Any]:
    """A post row as its PostOut's fields (dicts: validated once, by the page or the post)."""
    # Unpacked by position (a Row is a tuple): reading 12 attributes by name costs more than the rest.
    (
        post_id,
        author_id,
        content,
        image_key,
        likes_count,
        comments_count,
        created_at,
        updated_at,
        username,
        avatar,
        image_status,
        image_variants,
    ) = row
    return {
        "id": post_id,
        "author": {"id": author_id, "username": username, "avatar_url": avatar},
        "content": content,
        **_image(image_key, image_status, image_variants),
        "likes_count": likes_count,
        "comments_count": comments_count,
        "created_at": created_at,
        "updated_at": updated_at,
    }
