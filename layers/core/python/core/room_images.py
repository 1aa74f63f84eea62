"""Images of room messages as the functions read and show them (issue 19.5).

Every message read carries its images in the same statement: `images_column` is a correlated
subquery (one JSON array per message, in position order; the index on (message_id, position)
serves it), so no read gains a statement. Answers show an image's status and, once `ready`,
short-lived URLs of its metadata-free variants only (core.storage.variant_url, pinned to the
variant's version); never the original's key. Room events carry the images without URLs (an
event outlives any URL): a client fetches the message for them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy only where a query is built: the ai_worker (no database) reads the dataclasses
    from sqlalchemy import ColumnElement, Label

SHOWN_VARIANTS = ("thumb", "preview")  # what a viewer gets; `preview` is what a model is sent
# The most images one AI request shows, newest first (Bedrock Converse takes at most 20); the rest
# are described in words (ai_worker.vision), and the balance estimate counts them so.
MAX_IMAGES_PER_CALL = 20


@dataclass(frozen=True)
class ImageVariant:
    kind: str
    key: str
    content_type: str
    width: int | None
    height: int | None
    size: int | None
    version_id: str | None


@dataclass(frozen=True)
class MessageImage:
    id: uuid.UUID
    status: str  # pending | processing | ready | refused
    content_type: str
    width: int | None
    height: int | None
    variants: tuple[ImageVariant, ...] = ()

    def variant(self, kind: str) -> ImageVariant | None:
        return next((v for v in self.variants if v.kind == kind), None)

    @classmethod
    def of(cls, item: dict[str, Any]) -> MessageImage:
        variants = tuple(
            ImageVariant(
                kind=str(v["kind"]),
                key=str(v["key"]),
                content_type=str(v.get("content_type") or "image/jpeg"),
                width=v.get("width"),
                height=v.get("height"),
                size=v.get("size"),
                version_id=v.get("version_id"),
            )
            for v in item.get("variants") or ()
        )
        return cls(
            id=uuid.UUID(str(item["id"])),
            status=str(item["status"]),
            content_type=str(item["content_type"]),
            width=item.get("width"),
            height=item.get("height"),
            variants=variants if item["status"] == "ready" else (),
        )


def image_object(columns: Any = None) -> ColumnElement[Any]:
    """One image as the reads carry it (JSON, built in the database)."""
    from sqlalchemy import func, literal
    from sqlalchemy.dialects.postgresql import JSONB

    from core.models.room_images import room_image_table

    columns = room_image_table.c if columns is None else columns
    return func.jsonb_build_object(
        literal("id"),
        columns.id,
        literal("status"),
        columns.status,
        literal("content_type"),
        columns.content_type,
        literal("width"),
        columns.width,
        literal("height"),
        columns.height,
        literal("variants"),
        columns.variants,
        type_=JSONB,
    )


def images_column() -> Label[Any]:
    """The images of each message the enclosing select reads (correlated on `messages.id`), `[]` for none."""
    from sqlalchemy import func, select
    from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

    from core.models.room_images import room_image_table
    from core.models.rooms import message_table

    images = room_image_table.c
    ordered = func.jsonb_agg(aggregate_order_by(image_object(), images.position), type_=JSONB)
    return (
        select(func.coalesce(ordered, func.jsonb_build_array(type_=JSONB), type_=JSONB))
        .where(images.message_id == message_table.c.id)
        .scalar_subquery()
        .label("images")
    )


def parse(value: Iterable[dict[str, Any]] | None) -> tuple[MessageImage, ...]:
    return tuple(MessageImage.of(item) for item in value or ())


def blocking_ai(images: Iterable[MessageImage]) -> list[MessageImage]:
    """Images that keep an AI call from being made: not (yet) checked by the pipeline, or refused."""
    return [image for image in images if image.status != "ready"]
