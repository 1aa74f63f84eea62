"""A room message and its images as the functions that show them answer (rooms, realtime, the AI
steps): API.md's message object. Apart from core.schemas, which every function loads."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from core.schemas import UserSummary
from core.types import Timestamp

if TYPE_CHECKING:
    from core.room_images import MessageImage
    from core.room_messages import MessageView


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
