"""Copying a fork's conversation, one batch of up to core.room_forks.BATCH messages per transaction.

Each batch is idempotent: in one transaction it locks the job's row, copies the next messages after
the job's cursor with one INSERT ... SELECT (a deterministic range: the source seqs after the
cursor, oldest first, LIMIT BATCH), and advances the cursor and counters. A crash rolls the whole
batch back, so the next attempt copies the same range again, once; a second worker on the same job
skips it (SKIP LOCKED) rather than wait. Copied messages get ids derived from (fork, source id), so
even a bug that re-ran a range would collide on the primary key instead of duplicating silently.

What a batch copies: the source's messages up to the fork's seq that the forking user may read
(public ones and their own private exchanges; never others' private ones, never deleted ones),
renumbered from 1 without gaps (the fork's copied count + the row's rank in the batch), with their
kind, sender, content, visibility, requester, exclude_from_ai and times. An AI reply points at the
copy of the message it answers. A reply still `pending` (being generated when the fork was taken)
is copied `failed`: no worker will ever complete the copy.

The same statement copies the images of the messages it copies (core.models.room_images): each a
row of the fork with an id derived from (fork, source image), on the copied message at the same
position, sharing the upload's key and variants, `origin_image_id` naming the upload (a copy of a
copy names the upload itself). An image still `processing` is copied `pending`: copies are never
claimed; the media pipeline, finishing the upload, ends its pending copies as it ends the upload.
The batch holds the source images FOR SHARE until it commits, so that finish either waits for the
batch and then sees its copies, or goes first and the batch copies its ending (media.room_images).
Foreign keys are checked at the end of the statement, when the copied messages exist.
Statements per batch: four, whatever the batch's size (tests/integration/room_forks).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text

from core import db
from core.room_forks import BATCH

_LOCK = text(
    "SELECT f.source_room_id, f.requested_by, f.up_to_seq, f.cursor_seq, f.copied, f.total, f.status, "
    "r.deleted_at IS NOT NULL AS room_gone "
    "FROM room_forks f JOIN rooms r ON r.id = f.room_id WHERE f.room_id = :room FOR UPDATE OF f SKIP LOCKED"
)
_COPY = text(
    """
WITH batch AS (
  SELECT s.*, row_number() OVER (ORDER BY s.seq) AS n FROM (
    SELECT m.id, m.seq, m.sender_id, m.kind, m.content, m.status, m.visibility, m.requester_id,
           m.exclude_from_ai, m.reply_to_id, m.created_at, m.updated_at
    FROM messages m
    WHERE m.room_id = :source AND m.seq > :cursor AND m.seq <= :up_to AND m.deleted_at IS NULL
      AND (m.visibility = 'public' OR m.requester_id = :user)
    ORDER BY m.seq LIMIT :batch
  ) s
), copied AS (
  INSERT INTO messages (id, room_id, seq, sender_id, kind, content, status, visibility, requester_id,
                        exclude_from_ai, reply_to_id, created_at, updated_at)
  SELECT md5(:room_key || b.id::text)::uuid, :room, :copied + b.n, b.sender_id, b.kind, b.content,
         CASE WHEN b.status = 'pending' THEN 'failed' ELSE b.status END,
         b.visibility, b.requester_id, b.exclude_from_ai,
         CASE WHEN r.id IS NOT NULL THEN md5(:room_key || r.id::text)::uuid END,
         b.created_at, b.updated_at
  FROM batch b
  LEFT JOIN messages r ON r.id = b.reply_to_id AND r.room_id = :source AND r.seq <= :up_to
       AND r.deleted_at IS NULL AND (r.visibility = 'public' OR r.requester_id = :user)
  RETURNING 1
), source_images AS (
  SELECT i.* FROM room_images i JOIN batch b ON b.id = i.message_id
  FOR SHARE OF i
), images AS (
  INSERT INTO room_images (id, room_id, uploader_id, message_id, position, image_key, content_type, size, status,
                           status_reason, version_id, width, height, variants, origin_image_id, created_at,
                           updated_at)
  SELECT md5(:room_key || 'image:' || i.id::text)::uuid, :room, i.uploader_id,
         md5(:room_key || i.message_id::text)::uuid, i.position, i.image_key, i.content_type, i.size,
         CASE WHEN i.status = 'processing' THEN 'pending' ELSE i.status END,
         i.status_reason, i.version_id, i.width, i.height, i.variants, coalesce(i.origin_image_id, i.id),
         i.created_at, i.updated_at
  FROM source_images i
  RETURNING 1
)
SELECT (SELECT count(*) FROM copied) AS n, (SELECT max(seq) FROM batch) AS last_seq
"""
)
_ADVANCE = text(
    "UPDATE room_forks SET cursor_seq = :cursor, copied = :copied, updated_at = now(), "
    "status = CASE WHEN :done THEN 'completed' ELSE status END, "
    "completed_at = CASE WHEN :done THEN now() ELSE completed_at END "
    "WHERE room_id = :room RETURNING created_at, completed_at"
)
_ROOM = text(
    "UPDATE rooms SET last_seq = :copied, archived_at = CASE WHEN :done THEN NULL ELSE archived_at END, "
    "updated_at = now() WHERE id = :room"
)
_FAIL = text(
    "UPDATE room_forks SET status = 'failed', error = :error, updated_at = now() "
    "WHERE room_id = :room AND status = 'copying' RETURNING requested_by"
)
_NOTE = text("UPDATE room_forks SET error = :error, updated_at = now() WHERE room_id = :room AND status = 'copying'")


@dataclass(frozen=True)
class Progress:
    """Where a fork's copy stands after a batch."""

    room_id: uuid.UUID
    user_id: uuid.UUID | None  # whom to tell
    source_room_id: uuid.UUID | None
    up_to_seq: int
    status: str  # copying | completed | failed
    copied: int
    total: int

    @property
    def done(self) -> bool:
        return self.status != "copying"


def copy_batch(room_id: uuid.UUID, batch: int = BATCH) -> Progress | None:
    """Copy the next batch of this fork in one transaction. None: nothing to do here (no such job, or
    another worker holds it right now)."""
    with db.session_scope() as session:
        job = session.execute(_LOCK, {"room": room_id}).first()
        if job is None:
            return None
        if job.status != "copying":
            return Progress(
                room_id, job.requested_by, job.source_room_id, job.up_to_seq, job.status, job.copied, job.total
            )
        if job.room_gone or job.source_room_id is None:
            error = "the fork was deleted" if job.room_gone else "the forked room is gone"
            session.execute(_FAIL, {"room": room_id, "error": error})
            return Progress(
                room_id, job.requested_by, job.source_room_id, job.up_to_seq, "failed", job.copied, job.total
            )
        row = session.execute(
            _COPY,
            {
                "room": room_id,
                "room_key": f"{room_id}:",
                "source": job.source_room_id,
                "user": job.requested_by,
                "cursor": job.cursor_seq,
                "up_to": job.up_to_seq,
                "copied": job.copied,
                "batch": batch,
            },
        ).one()
        copied = job.copied + int(row.n)
        done = int(row.n) < batch or (row.last_seq or 0) >= job.up_to_seq
        cursor = int(row.last_seq) if row.last_seq is not None else job.cursor_seq
        session.execute(_ADVANCE, {"room": room_id, "cursor": cursor, "copied": copied, "done": done})
        session.execute(_ROOM, {"room": room_id, "copied": copied, "done": done})
    status = "completed" if done else "copying"
    return Progress(room_id, job.requested_by, job.source_room_id, job.up_to_seq, status, copied, job.total)


def note_error(room_id: uuid.UUID, error: str, *, final: bool) -> uuid.UUID | None:
    """Record why a batch failed; `final` (no retries left) ends the job `failed`. Whom to tell, if final."""
    with db.session_scope() as session:
        if not final:
            session.execute(_NOTE, {"room": room_id, "error": error})
            return None
        row = session.execute(_FAIL, {"room": room_id, "error": error}).first()
    return row.requested_by if row is not None else None
