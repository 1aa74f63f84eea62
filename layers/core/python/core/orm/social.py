"""Transitional ORM classes on the Core tables of core.models.social (removed once no caller uses them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Mapped

from core.models.social import comment_table, like_table, post_image_table, post_table
from core.orm.base import Base

__all__ = ["Comment", "Like", "Post", "PostImage"]


class Post(Base):
    __table__ = post_table

    id: Mapped[uuid.UUID]
    author_id: Mapped[uuid.UUID]
    content: Mapped[str]
    image_key: Mapped[str | None]
    likes_count: Mapped[int]
    comments_count: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PostImage(Base):
    __table__ = post_image_table

    image_key: Mapped[str]
    status: Mapped[str]
    status_reason: Mapped[str | None]
    version_id: Mapped[str | None]
    variants: Mapped[list[dict[str, Any]]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Like(Base):
    __table__ = like_table

    user_id: Mapped[uuid.UUID]
    post_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]


class Comment(Base):
    __table__ = comment_table

    id: Mapped[uuid.UUID]
    post_id: Mapped[uuid.UUID]
    author_id: Mapped[uuid.UUID]
    content: Mapped[str]
    created_at: Mapped[datetime]
