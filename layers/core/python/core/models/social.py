"""The social feed: posts with exact counters, likes and comments."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import Uuid

from core.models.base import metadata, timestamps, uuid_pk

post_table = Table(
    "posts",
    metadata,
    uuid_pk(),
    Column("author_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("content", String(280), nullable=False),
    Column("image_key", Text, nullable=True),
    Column("likes_count", Integer, nullable=False, server_default="0", default=0),
    Column("comments_count", Integer, nullable=False, server_default="0", default=0),
    *timestamps(),
    CheckConstraint("char_length(content) BETWEEN 1 AND 280", name="content_length"),
    CheckConstraint("likes_count >= 0 AND comments_count >= 0", name="counts_not_negative"),
    # Keyset orders: the feed, and one author's posts, newest first.
    Index("ix_posts_created_at_id", text("created_at DESC"), text("id DESC")),
    Index("ix_posts_author_id_created_at_id", "author_id", text("created_at DESC"), text("id DESC")),
)

POST_IMAGE_STATUSES = ("processing", "ready", "refused")


# What the media pipeline made of a post image, keyed by its upload key (no foreign key: the
# image may be processed before or after its post exists). No row yet means still processing.
# `variants`: [{kind, key, width, height, content_type, size, version_id}], metadata-free JPEGs
# under variants/<image key without its extension>/; the feed joins this row, one statement a page.
post_image_table = Table(
    "post_images",
    metadata,
    Column("image_key", Text, primary_key=True),
    Column("status", String(16), nullable=False),
    # for operators, never answered
    Column("status_reason", Text, nullable=True),
    # The S3 version of the upload the pipeline took; any other version of the key is deleted unscanned.
    Column("version_id", Text, nullable=True),
    Column("variants", JSONB, nullable=False, server_default="[]", default=list),
    *timestamps(),
    CheckConstraint(f"status IN {POST_IMAGE_STATUSES!r}", name="status"),
)

like_table = Table(
    "likes",
    metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("post_id", Uuid, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Index("ix_likes_post_id_created_at_user_id", "post_id", text("created_at DESC"), text("user_id DESC")),
)

comment_table = Table(
    "comments",
    metadata,
    uuid_pk(),
    Column("post_id", Uuid, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("content", String(280), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    CheckConstraint("char_length(content) BETWEEN 1 AND 280", name="content_length"),
    Index("ix_comments_post_id_created_at_id", "post_id", "created_at", "id"),
    Index("ix_comments_author_id", "author_id"),
)
