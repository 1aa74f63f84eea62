"""Bodies of the posts routes (API.md, Posts)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.schemas import JsonBody, UserSummary
from core.types import Timestamp

ImageType = Literal["image/jpeg", "image/png", "image/gif"]


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=280)
    image_key: str | None = Field(
        default=None, max_length=200, description="from POST /posts/upload-url, uploaded; omitted on PUT removes it"
    )


class UploadUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_type: ImageType
    size: int = Field(ge=1, description="bytes; at most 10 MiB, else 413")


class PresignedPost(BaseModel):
    method: Literal["POST"] = "POST"
    url: str
    fields: dict[str, str]


class UploadUrlOut(BaseModel):
    image_key: str
    upload: PresignedPost
    expires_in: int


class PostOut(JsonBody):
    id: uuid.UUID
    author: UserSummary
    content: str
    image_url: str | None
    likes_count: int
    comments_count: int
    created_at: Timestamp
    updated_at: Timestamp


class PostPage(JsonBody):
    items: list[PostOut]
    next_cursor: str | None
