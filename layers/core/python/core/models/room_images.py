"""Images of room messages (issue 19.5): uploaded by a member to one room with a presigned POST,
checked by the media pipeline, attached to at most one of that member's messages.

A row is made when the upload is issued (`pending`), so the image's room and uploader are known
before any byte arrives; the media pipeline claims it (`processing`, the S3 version taken), then
ends it `ready` (metadata-free variants written) or `refused` (malware, not the declared type,
undecodable). Only `ready` images are shown, and only as their variants; the original stays private.

A fork (issue 19.1, room_forks.copy) copies the images of the messages it copies: a copy is a row of
the fork, attached to the copied message, with the same `image_key` and variants, and
`origin_image_id` naming the upload it was copied from (a copy of a copy names the upload itself).
So `image_key` is unique among uploads only (`origin_image_id IS NULL`): the media pipeline claims
and finishes the upload, and finishing it updates its copies still `pending` in the same
transaction. A copy is never claimed, never attached again (it has its message from the start).

An upload not sent yet counts against its uploader's cap (rooms.images.issue, issue #19); past a
TTL it may be reclaimed (objects, then row) when its uploader is at the cap.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import Uuid

from core.models.base import metadata, timestamps, uuid_pk

ROOM_IMAGE_STATUSES = ("pending", "processing", "ready", "refused")
MAX_IMAGES_PER_MESSAGE = 4

room_image_table = Table(
    "room_images",
    metadata,
    uuid_pk(),
    Column("room_id", Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("uploader_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # Set once, when the uploader sends a message with it (never moved to another message).
    Column("message_id", Uuid, ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
    Column("position", SmallInteger, nullable=True),  # its place among the message's images, from 0
    Column("image_key", Text, nullable=False),  # one upload per key: uq_room_images_image_key below
    Column("content_type", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),  # the largest size the upload policy allowed
    Column("status", String(16), nullable=False, server_default="pending", default="pending"),
    Column("status_reason", Text, nullable=True),  # for operators, never answered
    # The S3 version the pipeline took; any other version of the key is deleted unscanned.
    Column("version_id", Text, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    # [{kind, key, width, height, content_type, size, version_id}] of the metadata-free variants.
    Column("variants", JSONB, nullable=False, server_default="[]", default=list),
    # A fork's copy: the upload it copies (no FK: a copy keeps its fields if the upload's row goes).
    Column("origin_image_id", Uuid, nullable=True),
    *timestamps(),
    CheckConstraint(f"status IN {ROOM_IMAGE_STATUSES!r}", name="status"),
    CheckConstraint("size > 0", name="size_positive"),
    CheckConstraint(f"position >= 0 AND position < {MAX_IMAGES_PER_MESSAGE}", name="position_range"),
    CheckConstraint("(message_id IS NULL) = (position IS NULL)", name="position_with_message"),
    CheckConstraint("origin_image_id IS NULL OR message_id IS NOT NULL", name="copy_with_message"),
    # A message's images in order (the messages' reads join them by message_id).
    Index("uq_room_images_message_id_position", "message_id", "position", unique=True),
    Index("ix_room_images_room_id", "room_id"),
    Index("ix_room_images_uploader_id", "uploader_id"),
    # A user's unsent uploads, oldest first: counted against the cap at each upload, the stale ones
    # reclaimed (rooms.images, issue #19).
    Index(
        "ix_room_images_unsent",
        "uploader_id",
        "created_at",
        postgresql_where=text("message_id IS NULL AND origin_image_id IS NULL"),
    ),
    Index("uq_room_images_image_key", "image_key", unique=True, postgresql_where=text("origin_image_id IS NULL")),
    Index("ix_room_images_origin_image_id", "origin_image_id", postgresql_where=text("origin_image_id IS NOT NULL")),
)
