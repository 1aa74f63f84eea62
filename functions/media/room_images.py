"""Room images (`room-images/<room>/<user>/<image>.<ext>`, issue 19.5) through the media pipeline.

The row exists before any byte does (made `pending` by the rooms function when it issued the
upload), so the pipeline only ever processes images someone was allowed to upload:
  claim: pending -> processing with the S3 version taken (one conditional UPDATE; a duplicate or
         late event finds nothing to claim); a stale claim of the same version is taken again
         after MEDIA_CLAIM_LEASE_S;
  another version of a taken key (the presigned POST used again) is deleted, never scanned or shown;
  then what post images go through (media.pipeline): already tagged refused, malware scan first,
  magic bytes against the declared type, one decode -> thumb + preview without metadata under
  variants/room-images/... -> `ready` with the variants (pinned to their versions). A hit, a
  mismatch, an inconclusive scan or an undecodable image tags the version (the bucket policy then
  denies reading it) and ends the image `refused`.
A retryable failure hands the claim back (processing -> pending) and re-raises.

Only the upload's row (`origin_image_id IS NULL`, one per key) is claimed, released or finished; a
fork's copies of it (room_forks.copy: same key, copied `pending` while the upload is not done) take
the upload's ending in the transaction that finishes it. A fork's batch holds the source images it
copies FOR SHARE, so finishing the upload either waits for the batch (and its copies, committed by
then, are seen by the statement that follows) or goes first (and the batch copies the ending).
Database access is SQLAlchemy Core (core.db.session_scope).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from core import db
from core.keys import room_image_variants_prefix
from core.models.room_images import room_image_table
from media.logs import logger
from media.objects import ObjectGone, StoredObject
from media.pipeline import Outcome, VariantRow, discard_other_version, examine_image
from media.settings import MediaSettings

IMAGES = room_image_table.c
UPLOAD = IMAGES.origin_image_id.is_(None)  # the row the pipeline works on; copies follow it


def process(settings: MediaSettings, obj: StoredObject) -> Outcome:
    try:
        if obj.version_id is None:  # moto's events name none: the current version
            obj = StoredObject(obj.bucket, obj.key, obj.current_version())
    except ObjectGone:
        return Outcome("skipped", "the object is gone")
    declared = claim(obj.key, obj.version_id, settings.media_claim_lease_s)
    if declared is None:
        return not_claimed(obj)
    try:
        return examine_image(
            settings, obj, declared, finish=finish, variants_prefix=room_image_variants_prefix(obj.key)
        )
    except ObjectGone:
        release(obj.key, obj.version_id)
        return Outcome("skipped", "the object is gone")
    except BaseException:
        release(obj.key, obj.version_id)  # the retried message claims it again
        raise


def _taken_by(version_id: str | None) -> Any:
    return IMAGES.version_id.is_not_distinct_from(version_id)


def claim(key: str, version_id: str | None, lease_s: int) -> str | None:
    """pending -> processing with this version (or a stale claim of it again): the declared type."""
    stale = func.now() - timedelta(seconds=lease_s)
    with db.session_scope() as conn:
        return conn.execute(
            update(room_image_table)
            .where(
                IMAGES.image_key == key,
                UPLOAD,
                (IMAGES.status == "pending")
                | ((IMAGES.status == "processing") & _taken_by(version_id) & (IMAGES.updated_at < stale)),
            )
            .values(status="processing", version_id=version_id, status_reason=None, updated_at=func.now())
            .returning(IMAGES.content_type)
        ).scalar()


def not_claimed(obj: StoredObject) -> Outcome:
    """A duplicate or late event changes nothing; another version of a taken key is deleted unscanned."""
    with db.session_scope() as conn:
        row = conn.execute(select(IMAGES.status, IMAGES.version_id).where(IMAGES.image_key == obj.key, UPLOAD)).first()
    if row is None:
        return Outcome("skipped", "no room image was issued under this key (or its room is gone)")
    return discard_other_version(obj, "room image", row.status, row.version_id)


def release(key: str, version_id: str | None) -> None:
    try:
        with db.session_scope() as conn:
            conn.execute(
                update(room_image_table)
                .where(IMAGES.image_key == key, UPLOAD, IMAGES.status == "processing", _taken_by(version_id))
                .values(status="pending", version_id=None, updated_at=func.now())
            )
    except Exception:  # noqa: BLE001 - the original error matters more; the lease recovers the claim
        logger.exception("could not hand the room image claim back", extra={"image_key": key})


def finish(
    obj: StoredObject,
    status: str,
    reason: str | None = None,
    *,
    variants: list[VariantRow] | None = None,
    size: tuple[int, int] | None = None,
) -> Outcome:
    """processing -> ready | refused, only while still this version's claim; the upload's copies still
    `pending` end the same way in the same transaction."""
    shown = [
        {
            "kind": v.kind,
            "key": v.s3_key,
            "width": v.width,
            "height": v.height,
            "content_type": v.content_type,
            "size": v.size,
            "version_id": v.version_id,
        }
        for v in variants or ()
    ]
    width, height = size or (None, None)
    ending = {"status": status, "status_reason": reason, "variants": shown, "width": width, "height": height}
    with db.session_scope() as conn:
        done = conn.execute(
            update(room_image_table)
            .where(IMAGES.image_key == obj.key, UPLOAD, IMAGES.status == "processing", _taken_by(obj.version_id))
            .values(**ending, updated_at=func.now())
            .returning(IMAGES.id, IMAGES.message_id)
        ).first()
        if done is None:
            return Outcome("skipped", "no longer processing")
        messages = [done.message_id, *_end_copies(conn, done.id, ending)]
    _announce([m for m in messages if m is not None])
    return Outcome(status, reason or "")


def _announce(message_ids: list[uuid.UUID]) -> None:
    """`message.updated` for each message that carries the image (sent while it was processing; a
    fork's copies): its members see the image turn ready or refused without polling.

    Its own transaction, after the image's: publishing locks the room's row, which a send locks
    before the image's, so one transaction holding both would deadlock with a send attaching this
    image. It locks the rooms' rows first, in one order (no deadlock between two of these), then
    reads which messages are still live: a delete records `message.deleted` under its room's lock,
    so it either came first (its message is skipped) or comes after this event (never an update
    that brings a deleted message back). Best effort: the image's state is committed either way
    (GET shows it). The events wait in the outbox for the room's next nudge, or are nudged where
    this function has the room-events queue."""
    if not message_ids:
        return
    from core.models.rooms import message_table, room_table
    from core.room_messages import load, publish

    messages = message_table.c
    try:
        with db.session_scope() as conn:
            rooms = sorted(set(conn.execute(select(messages.room_id).where(messages.id.in_(message_ids))).scalars()))
            conn.execute(
                select(room_table.c.id)
                .where(room_table.c.id.in_(rooms))
                .order_by(room_table.c.id)
                .with_for_update(key_share=True)  # FOR NO KEY UPDATE: what publishing's UPDATE takes
            )
            live = messages.id.in_(message_ids) & messages.deleted_at.is_(None)
            found = conn.execute(select(messages.id).where(live).order_by(messages.room_id, messages.id)).scalars()
            for message_id in list(found):
                publish(conn, "message.updated", load(conn, message_id))
    except Exception:  # noqa: BLE001 - the image is done; only the event is lost (clients poll the image)
        logger.exception("message.updated not published for a finished room image", extra={"count": len(message_ids)})


def _end_copies(conn: Connection, upload_id: uuid.UUID, ending: dict[str, Any]) -> list[uuid.UUID]:
    """The upload's copies still `pending` end as it did. Each statement sees the copies committed
    before it started. The upload's UPDATE waited for any fork batch holding the upload (FOR SHARE),
    so the first statement sees that batch's copies; a statement that updates copies waits likewise
    for batches copying those copies (a fork of a fork), whose copies the next statement sees. A
    statement that finds none left ends it: the second one, or the first for an upload never forked.
    The messages of the copies it ended."""
    copies = (
        update(room_image_table)
        .where(IMAGES.origin_image_id == upload_id, IMAGES.status == "pending")
        .values(**ending, updated_at=func.now())
        .returning(IMAGES.message_id)
    )
    ended: list[uuid.UUID] = []
    while found := list(conn.execute(copies).scalars()):
        ended += found
    return ended
