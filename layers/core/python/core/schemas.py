"""Response pieces several functions share (API.md objects)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from core.pagination import DEFAULT_LIMIT, MAX_LIMIT, cursors_pattern
from core.types import Timestamp

if TYPE_CHECKING:
    from core.room_images import MessageImage
    from core.room_messages import MessageView

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
DEFAULT_PAGE = DEFAULT_LIMIT
BY_TIME = (datetime, uuid.UUID)  # the key of most lists: (created_at or joined_at, id)


def cursor_query(scope: str | tuple[str, ...], key_types: tuple[type, ...] = BY_TIME) -> Any:
    """`Annotated[str | None, cursor_query(SCOPE)]`: the `?cursor=` of one list, whose pattern
    matches exactly the cursors that list issues (of each list, when a path serves several orders)."""
    scopes = (scope,) if isinstance(scope, str) else scope
    return Query(pattern=cursors_pattern(scopes, key_types), description="opaque, from the previous page's next_cursor")


class JsonBody(BaseModel):
    """A response body that core.http writes to JSON in one pass (pydantic-core), instead of to
    dicts and then again through json.dumps. The text is the same, byte for byte: non-ASCII is
    escaped as json.dumps escapes it. Only for models without float fields (json.dumps and
    pydantic write some floats differently); tests/unit/test_http.py checks every subclass."""


class UserSummary(BaseModel):
    """How a user appears inside other objects: author, sender, liker."""

    id: uuid.UUID
    username: str
    avatar_url: str | None


class ImageVariantOut(BaseModel):
    kind: Literal["thumb", "preview"]
    url: str = Field(description="short-lived; a metadata-free rendition, never the original")
    width: int | None
    height: int | None
    content_type: str


class MessageImageOut(BaseModel):
    """An image of a message (issue 19.5): shown only once the media pipeline has checked it."""

    id: uuid.UUID
    status: Literal["pending", "processing", "ready", "refused"] = Field(
        description="`pending`: not uploaded or not seen yet; `processing`: being scanned and checked; "
        "`ready`: shown as `variants`; `refused`: malware or not the declared type, never shown"
    )
    content_type: str
    width: int | None
    height: int | None
    variants: list[ImageVariantOut] = Field(
        description="`ready` images only, in answers; room events carry none (fetch the message for URLs)"
    )

    @classmethod
    def of(cls, image: MessageImage, *, urls: bool = True) -> MessageImageOut:
        from core.room_images import SHOWN_VARIANTS
        from core.storage import variant_url

        variants = [
            ImageVariantOut(
                kind=v.kind,  # type: ignore[arg-type]
                url=variant_url(v.key, v.version_id),
                width=v.width,
                height=v.height,
                content_type=v.content_type,
            )
            for v in image.variants
            if urls and image.status == "ready" and v.kind in SHOWN_VARIANTS
        ]
        return cls(
            id=image.id,
            status=image.status,  # type: ignore[arg-type]
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            variants=variants,
        )


class MessageOut(BaseModel):
    """A room message (API.md, Rooms): what the rooms routes answer and the room events carry."""

    id: uuid.UUID
    room_id: uuid.UUID
    seq: int
    sender: UserSummary | None = Field(description="null for AI messages")
    kind: Literal["human", "ai"]
    content: str
    status: Literal["pending", "completed", "failed"] = Field(
        description="`pending`: an AI reply still being generated (its text arrives as message.delta events, "
        "then message.completed); it ends `completed` or `failed`, never stays pending past its deadline"
    )
    visibility: Literal["public", "private"]
    exclude_from_ai: bool
    reply_to: uuid.UUID | None = Field(description="for an AI message: the human message it answers")
    images: list[MessageImageOut] = Field(
        default_factory=list, description="up to 4, in the order sent (POST /rooms/{room_id}/images)"
    )
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, message: MessageView, *, urls: bool = True) -> MessageOut:
        sender = None
        if message.sender_id is not None and message.sender_username is not None:
            sender = UserSummary(
                id=message.sender_id, username=message.sender_username, avatar_url=message.sender_avatar_url
            )
        return cls(
            id=message.id,
            room_id=message.room_id,
            seq=message.seq,
            sender=sender,
            kind=message.kind,  # type: ignore[arg-type]
            content=message.content,
            status=message.status,  # type: ignore[arg-type]
            visibility=message.visibility,  # type: ignore[arg-type]
            exclude_from_ai=message.exclude_from_ai,
            reply_to=message.reply_to_id,
            images=[MessageImageOut.of(image, urls=urls) for image in message.images],
            created_at=message.created_at,
            updated_at=message.updated_at,
        )
