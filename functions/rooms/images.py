"""Images in rooms (issue 19.5): a member uploads an image to one room with a presigned POST (S3
enforces its type and size), the media pipeline scans and checks it (core.room_images' statuses),
and the uploader attaches up to 4 of them to one of their messages.

- `issue` (POST /rooms/{id}/images, member+, not archived): a `pending` row, its key generated under
  the room and the uploader (core.keys.room_image_key), and the presigned POST. Rate-limited per user,
  and capped (issue #19): at most ROOM_IMAGE_UNSENT_MAX uploads not sent with a message per user,
  across rooms, so what one user can park in the bucket is bounded (cap x ROOM_IMAGE_MAX_BYTES). At
  the cap, their unsent uploads older than ROOM_IMAGE_UNSENT_TTL_S are reclaimed first, outside the
  upload's transaction (`upload`: marked refused, then their objects, then the rows); still at the
  cap: 409. The count runs under a lock of the user's row, so concurrent
  issues of one user are counted one after the other (no advisory locks: core.db, RDS Proxy).
- `attach`, in the sending transaction: each id must be an image this sender uploaded to this room
  (else 404, with nothing said about anyone else's images) and not sent yet (else 409); a refused
  image, or an image of which nothing was uploaded, is 409; with `invoke_ai`, an image not `ready`
  yet is 409 too: the AI call would otherwise go without it. More than 4, or one twice, is 422.
- `one` (GET /rooms/{id}/images/{image_id}, reader+): the uploader sees their image from the start
  (to wait for `ready`); anyone else only once it is attached to a message they may see. 404 otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger
from sqlalchemy import Connection, and_, case, delete, exists, func, insert, or_, select, update

from core import keys, ratelimit, storage
from core.config import FeatureSettings, setting
from core.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from core.models.room_images import MAX_IMAGES_PER_MESSAGE, room_image_table
from core.models.rooms import message_table
from core.models.user import user_table
from core.room_access import RoomView, room_for, writable
from core.room_images import SHOWN_VARIANTS, MessageImage, blocking_ai, image_object
from rooms.limits import DEFAULT_ROOM_IMAGE_MAX_BYTES

IMAGES = room_image_table.c
# An upload not sent with a message (a fork's copy always has its message): ix_room_images_unsent.
UNSENT = and_(IMAGES.message_id.is_(None), IMAGES.origin_image_id.is_(None))
RECLAIM_BATCH = 50  # stale unsent images reclaimed by one issue at most (one DeleteObjects request)
logger = Logger(child=True)


@dataclass(frozen=True, kw_only=True)
class RoomImagesSettings(FeatureSettings):
    """The rooms function: images of room messages."""

    room_image_max_bytes: int = setting(
        DEFAULT_ROOM_IMAGE_MAX_BYTES,
        ge=1024,
        le=50 * 1024 * 1024,
        doc="largest image a member may upload to a room (10 MiB)",
    )
    room_image_uploads_per_minute: int = setting(
        30, ge=1, le=1000, doc="room image uploads (POST /rooms/{id}/images) one user may start per minute"
    )
    room_image_unsent_max: int = setting(
        20, ge=1, le=1000, doc="room images one user may have uploaded but not sent with a message (all rooms)"
    )
    room_image_unsent_ttl_s: int = setting(
        86400,
        ge=2 * 3600,  # longer than any presigned POST lives (UPLOAD_URL_TTL_S, at most 1 h)
        le=30 * 86400,
        doc="age after which an unsent room image is deleted (objects and row) when its uploader is at the cap",
    )


@dataclass(frozen=True)
class Issued:
    image: MessageImage
    upload: dict[str, Any]
    expires_in: int


def _room(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID, at_least: str) -> RoomView:
    return room_for(session, room_id, user_id, at_least=at_least)


class _StaleAtCap(Exception):
    """The uploader is at the cap and has stale unsent images: reclaim them, then issue again."""


def upload(
    sessions: Callable[[], AbstractContextManager[Connection]],
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    content_type: str,
    size: int,
) -> Issued:
    """POST /rooms/{id}/images: `issue` in one unit of work; at the cap with stale unsent images,
    that one rolls back, they are reclaimed in units of work of their own (`_reclaim`), and `issue`
    runs once more (409 if still at the cap)."""
    try:
        with sessions() as session:
            return issue(session, room_id, user_id, content_type, size)
    except _StaleAtCap:
        pass
    _reclaim(sessions, user_id, RoomImagesSettings.current().room_image_unsent_ttl_s)
    with sessions() as session:
        return issue(session, room_id, user_id, content_type, size, reclaimed=True)


def issue(
    session: Connection,
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    content_type: str,
    size: int,
    *,
    reclaimed: bool = False,
) -> Issued:
    """Member+ of a room that takes messages; the declared size is the most S3 will accept.
    `reclaimed`: stale images were just reclaimed (at the cap now: 409, whatever is stale)."""
    settings = RoomImagesSettings.current()
    writable(_room(session, room_id, user_id, "member"))
    if size > settings.room_image_max_bytes:
        raise PayloadTooLarge(f"Room images are at most {settings.room_image_max_bytes} bytes")
    ratelimit.hit(session, f"room-images:{user_id}", settings.room_image_uploads_per_minute)
    _make_room(session, user_id, settings, reclaimed=reclaimed)
    image_id = uuid.uuid4()
    key = keys.room_image_key(room_id, user_id, image_id, keys.ROOM_IMAGE_EXTENSIONS[content_type])
    session.execute(
        insert(room_image_table).values(
            id=image_id, room_id=room_id, uploader_id=user_id, image_key=key, content_type=content_type, size=size
        )
    )
    ttl = storage.StorageSettings.current().upload_url_ttl_s
    upload = storage.presigned_post(key, content_type, size, ttl)
    image = MessageImage(id=image_id, status="pending", content_type=content_type, width=None, height=None)
    return Issued(image, upload, ttl)


def _unsent(session: Connection, user_id: uuid.UUID) -> int:
    """This user's uploads not sent with a message, in every room (ix_room_images_unsent)."""
    return int(
        session.execute(
            select(func.count()).select_from(room_image_table).where(UNSENT, IMAGES.uploader_id == user_id)
        ).scalar_one()
    )


def _make_room(
    session: Connection, user_id: uuid.UUID, settings: RoomImagesSettings, *, reclaimed: bool = False
) -> None:
    """Below the cap of unsent images; at it, _StaleAtCap when some are stale (`upload` reclaims them
    outside this transaction and comes back), else 409.

    The user's row is locked first (FOR NO KEY UPDATE: foreign keys to it, which take KEY SHARE, are
    not blocked), so a concurrent issue of the same user waits for this transaction and then counts
    what it committed: two issues at cap - 1 cannot both pass."""
    session.execute(select(user_table.c.id).where(user_table.c.id == user_id).with_for_update(key_share=True))
    cap = settings.room_image_unsent_max
    unsent = _unsent(session, user_id)
    if unsent < cap:
        return
    if not reclaimed and session.execute(select(_stale(user_id, settings.room_image_unsent_ttl_s).exists())).scalar():
        raise _StaleAtCap
    hours = settings.room_image_unsent_ttl_s / 3600
    raise Conflict(
        f"You have {unsent} images uploaded but not sent (at most {cap}): send them with a message (or wait "
        f"{hours:g} h for them to expire) before uploading more"
    )


def _stale_objects(row: Any) -> list[tuple[str, str | None]]:
    """An image's objects: the original and its variants at the versions the pipeline recorded
    (deleted for good; it deletes any other version of an upload itself), and where it recorded
    none (never uploaded, or never processed) the key without a version: S3 puts a delete marker
    over whatever is current, and the bucket's lifecycle rules expire both within a week."""
    prefix = keys.room_image_variants_prefix(row.image_key)
    found: list[tuple[str, str | None]] = [(row.image_key, row.version_id or None)]
    recorded = {
        str(v["kind"]): str(v["version_id"])
        for v in row.variants or ()
        if v.get("kind") and v.get("version_id") and v.get("key") == keys.variant_key(prefix, str(v["kind"]))
    }
    kinds = sorted({*SHOWN_VARIANTS, *recorded})
    found += [(keys.variant_key(prefix, kind), recorded.get(kind)) for kind in kinds]
    return found


def _stale(user_id: uuid.UUID, ttl_s: int) -> Any:
    """This user's unsent uploads older than `ttl_s` that may be reclaimed."""
    stale = func.now() - timedelta(seconds=ttl_s)
    copies = room_image_table.alias("copies")
    return select(IMAGES.id).where(
        UNSENT,
        IMAGES.uploader_id == user_id,
        IMAGES.created_at < stale,
        # Not while the media pipeline holds a recent claim (it would write variants after us).
        ~and_(IMAGES.status == "processing", IMAGES.updated_at >= stale),
        # An unsent upload has no fork copies (a copy is of a sent image); never delete shared objects.
        ~exists().where(copies.c.origin_image_id == IMAGES.id),
    )


def _reclaim(sessions: Callable[[], AbstractContextManager[Connection]], user_id: uuid.UUID, ttl_s: int) -> int:
    """Delete up to RECLAIM_BATCH of this user's stale unsent images, each step its own unit of work,
    so no S3 call runs inside a transaction that could still roll back:
      1. mark them `refused` (never sendable again) and commit;
      2. delete their objects in S3;
      3. delete the rows whose objects all went.
    A crash between steps leaves refused rows that the next reclaim takes again (S3 deletes are
    idempotent); an image S3 did not delete stays refused (logged) for the next attempt. How many
    rows went."""
    with sessions() as session:
        rows = session.execute(
            select(IMAGES.id, IMAGES.image_key, IMAGES.version_id, IMAGES.variants)
            .where(IMAGES.id.in_(_stale(user_id, ttl_s)))
            .order_by(IMAGES.created_at)
            .limit(RECLAIM_BATCH)
            .with_for_update(of=room_image_table, skip_locked=True)  # a send attaching one wins; skipped here
        ).all()
        if rows:
            session.execute(
                update(room_image_table)
                .where(IMAGES.id.in_([row.id for row in rows]))
                .values(status="refused", status_reason="reclaiming: unsent past its time", updated_at=func.now())
            )
    if not rows:
        return 0
    objects = {row.id: _stale_objects(row) for row in rows}
    failed = storage.delete_versions([o for found in objects.values() for o in found])
    gone = [image_id for image_id, found in objects.items() if not failed.intersection(k for k, _ in found)]
    if len(gone) < len(objects):
        logger.warning(
            "stale unsent room images kept: S3 did not delete all their objects",
            extra={"images": [str(i) for i in objects if i not in gone]},
        )
    if gone:
        with sessions() as session:
            session.execute(delete(room_image_table).where(IMAGES.id.in_(gone), UNSENT, IMAGES.status == "refused"))
    return len(gone)


def one(session: Connection, room_id: uuid.UUID, image_id: uuid.UUID, user_id: uuid.UUID) -> MessageImage:
    """Reader+: the uploader's own image, or one attached to a message the caller may see."""
    _room(session, room_id, user_id, "reader")
    messages = message_table.c
    seen = exists().where(
        messages.id == IMAGES.message_id,
        messages.deleted_at.is_(None),
        or_(messages.visibility == "public", messages.requester_id == user_id),
    )
    row = session.execute(
        select(image_object().label("image")).where(
            IMAGES.id == image_id, IMAGES.room_id == room_id, or_(IMAGES.uploader_id == user_id, seen)
        )
    ).first()
    if row is None:
        raise NotFound("Image not found")
    return MessageImage.of(row.image)


def _invalid(ids: list[uuid.UUID], why: str) -> ValidationFailed:
    details = [{"field": "image_ids", "in": "body", "message": f"{i}: {why}", "type": "value"} for i in ids]
    return ValidationFailed("image_ids: at most 4 distinct images per message", details=details)


def attach(
    session: Connection,
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    message_id: uuid.UUID,
    image_ids: list[uuid.UUID],
    *,
    for_ai: bool,
) -> tuple[MessageImage, ...]:
    """The sender's images, attached in the order given (two statements: a locking read, one update)."""
    if not image_ids:
        return ()
    if len(image_ids) > MAX_IMAGES_PER_MESSAGE or len(set(image_ids)) != len(image_ids):
        raise _invalid(image_ids, f"at most {MAX_IMAGES_PER_MESSAGE} distinct images per message")
    rows = {
        r.id: r
        for r in session.execute(
            select(IMAGES.id, IMAGES.message_id, IMAGES.status, IMAGES.image_key)
            .where(IMAGES.id.in_(image_ids), IMAGES.room_id == room_id, IMAGES.uploader_id == user_id)
            .with_for_update()
        ).all()
    }
    missing = [i for i in image_ids if i not in rows]
    if missing:  # whose it is, or whether it exists, is not said (API.md: 404 for what you may not know)
        raise NotFound(f"No such image of yours in this room: {', '.join(map(str, missing))}")
    used = [str(i) for i in image_ids if rows[i].message_id is not None]
    if used:
        raise Conflict(f"Already sent with a message (upload it again to send it again): {', '.join(used)}")
    refused = [str(i) for i in image_ids if rows[i].status == "refused"]
    if refused:
        raise Conflict(f"Refused by the media check (malware or not the declared type): {', '.join(refused)}")
    unseen = [i for i in image_ids if rows[i].status == "pending"]
    absent = [str(i) for i in unseen if storage.object_size(rows[i].image_key) is None]
    if absent:
        raise Conflict(f"Nothing was uploaded for these images yet: {', '.join(absent)}")
    order = case({image_id: position for position, image_id in enumerate(image_ids)}, value=IMAGES.id)
    attached = session.execute(
        update(room_image_table)
        .where(and_(IMAGES.id.in_(image_ids), IMAGES.message_id.is_(None)))
        .values(message_id=message_id, position=order)
        .returning(image_object().label("image"), IMAGES.position)
    ).all()
    images = tuple(MessageImage.of(r.image) for r in sorted(attached, key=lambda r: r.position))
    if for_ai:
        waiting = blocking_ai(images)
        if waiting:
            raise Conflict(
                "These images are still being checked, so the AI cannot see them yet; send again once they are "
                f"ready (GET /rooms/{{room_id}}/images/{{image_id}}): {', '.join(str(i.id) for i in waiting)}"
            )
    return images


def require_ready(images: tuple[MessageImage, ...]) -> None:
    """Regenerating an AI reply shows its question's images again: all must be ready (else 409)."""
    waiting = blocking_ai(images)
    if waiting:
        raise Conflict(
            f"The question's images are not ready (refused or still being checked): "
            f"{', '.join(str(i.id) for i in waiting)}"
        )
