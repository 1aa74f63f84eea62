"""The social feed: posts with exact counters, likes and comments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from core.models.base import Base, Timestamps, UuidPk


class Post(UuidPk, Timestamps, Base):
    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint("char_length(content) BETWEEN 1 AND 280", name="content_length"),
        CheckConstraint("likes_count >= 0 AND comments_count >= 0", name="counts_not_negative"),
        # Keyset orders: the feed, and one author's posts, newest first.
        Index("ix_posts_created_at_id", text("created_at DESC"), text("id DESC")),
        Index("ix_posts_author_id_created_at_id", "author_id", text("created_at DESC"), text("id DESC")),
    )

    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    content: Mapped[str] = mapped_column(String(280), nullable=False)
    image_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    likes_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)
    comments_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)


POST_IMAGE_STATUSES = ("processing", "ready", "refused")


class PostImage(Timestamps, Base):
    """What the media pipeline made of a post image, keyed by its upload key (no foreign key: the
    image may be processed before or after its post exists). No row yet means still processing.
    `variants`: [{kind, key, width, height, content_type, size, version_id}], metadata-free JPEGs
    under variants/<image key without its extension>/; the feed joins this row, one statement a page."""

    __tablename__ = "post_images"
    __table_args__ = (CheckConstraint(f"status IN {POST_IMAGE_STATUSES!r}", name="status"),)

    image_key: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # for operators, never answered
    # The S3 version of the upload the pipeline took; any other version of the key is deleted unscanned.
    version_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default="[]", default=list)


class Like(Base):
    __tablename__ = "likes"
    __table_args__ = (
        Index("ix_likes_post_id_created_at_user_id", "post_id", text("created_at DESC"), text("user_id DESC")),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Comment(UuidPk, Base):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("char_length(content) BETWEEN 1 AND 280", name="content_length"),
        Index("ix_comments_post_id_created_at_id", "post_id", "created_at", "id"),
        Index("ix_comments_author_id", "author_id"),
    )

    post_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    content: Mapped[str] = mapped_column(String(280), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
