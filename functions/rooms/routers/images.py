"""Room image routes (issue 19.5): issue an upload, look at one image."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler.api_gateway import Router

from core import db
from core.http import caller, documented, route
from core.lazy import lazy_module
from core.message_schemas import MessageImageOut
from core.routes import GET_ROOM_IMAGE, UPLOAD_ROOM_IMAGE

if TYPE_CHECKING:
    from rooms import images
    from rooms.schemas import images as schemas
else:
    schemas = lazy_module("rooms.schemas.images")  # its bodies, built on the first request of these routes
    images = lazy_module("rooms.images")  # S3, SQL: loaded on the first image request

router = Router()


@route(
    router,
    UPLOAD_ROOM_IMAGE,
    status_code=201,
    summary="Upload an image for a message in this room (member+): a presigned POST",
    description="201 `{image, upload, expires_in}`: POST the file to `upload.url` with `upload.fields` "
    "(S3 enforces the declared type and at most the declared size). The media pipeline then scans it and "
    "checks its type: `processing`, then `ready` (shown only as metadata-free variants) or `refused`. Send "
    "it with a message in `image_ids` (up to 4); a message sent before it ends gets a `message.updated` event "
    "when it does. 409 in an archived room, or when you already have 20 images (ROOM_IMAGE_UNSENT_MAX) "
    "uploaded but not sent, in any room: send some first; unsent images older than 24 h "
    "(ROOM_IMAGE_UNSENT_TTL_S) are then deleted to make room. 413 over the size limit; 429 past the "
    "uploads per minute.",
    tags=["rooms"],
    openapi_extensions=documented(409, 413, 429),
)
def upload_image(room_id: uuid.UUID, body: schemas.RoomImageIn) -> schemas.RoomImageIssued:
    issued = images.upload(db.session_scope, room_id, caller(router).user_id, body.content_type, body.size)
    return schemas.RoomImageIssued.of(issued)


@route(
    router,
    GET_ROOM_IMAGE,
    summary="One image (reader+): your own upload, or an image of a message you may see",
    description="Its status, and once `ready` short-lived URLs of its metadata-free variants. Anyone "
    "else's unattached image, or an image of a message you may not see, is 404.",
    tags=["rooms"],
)
def get_image(room_id: uuid.UUID, image_id: uuid.UUID) -> MessageImageOut:
    return MessageImageOut.of(db.read(images.one, room_id, image_id, caller(router).user_id))
