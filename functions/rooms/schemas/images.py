"""Bodies of the room image routes (issue 19.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from core.message_schemas import MessageImageOut
from core.types import JsonInt
from rooms.limits import DEFAULT_ROOM_IMAGE_MAX_BYTES
from rooms.schemas import Model

if TYPE_CHECKING:
    from rooms.images import Issued


class RoomImageIn(Model):
    model_config = ConfigDict(extra="forbid")

    content_type: Literal["image/jpeg", "image/png", "image/gif"]
    size: JsonInt = Field(
        ge=1,
        # Declared, not validated here: over the stage's limit answers 413 (API.md), not 422.
        json_schema_extra={"maximum": DEFAULT_ROOM_IMAGE_MAX_BYTES},
        description="bytes; at most 10 MiB (unless the stage sets another), else 413; S3 refuses a larger upload",
    )


class RoomImageUpload(Model):
    method: Literal["POST"] = "POST"
    url: str
    fields: dict[str, str] = Field(description="send them all, then the file last, as multipart/form-data")


class RoomImageIssued(Model):
    image: MessageImageOut
    upload: RoomImageUpload
    expires_in: int

    @classmethod
    def of(cls, issued: Issued) -> RoomImageIssued:
        upload = RoomImageUpload(url=issued.upload["url"], fields=issued.upload["fields"])
        return cls(image=MessageImageOut.of(issued.image), upload=upload, expires_in=issued.expires_in)
