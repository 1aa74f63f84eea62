"""Bodies of the posts routes (API.md, Posts)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.config import DEFAULT_POST_IMAGE_MAX_BYTES
from core.keys import POST_IMAGE_KEY_SHAPE
from core.schemas import JsonBody, UserSummary
from core.types import Timestamp

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
    size: int = Field(
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


class PostPage(JsonBody):
    items: list[PostOut]
    next_cursor: str | None
