"""Likes: idempotent both ways; likes_count moves in the same transaction as the like row."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, Select, bindparam, delete, exists, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db import FOREIGN_KEY_VIOLATION, sqlstate
from core.errors import NotFound
from core.orm.social import Like, Post
from core.orm.user import User
from core.pagination import decode_cursor, page_of

SCOPE = "likes"

LikerRow = Row[datetime, uuid.UUID, str, str | None]


_POST_EXISTS = select(exists().where(Post.id == bindparam("post_id", type_=Post.id.type)))


def _post_exists(conn: Connection | Session, post_id: uuid.UUID) -> None:
    if not conn.scalar(_POST_EXISTS, {"post_id": post_id}):
        raise NotFound("Post not found")


def like(session: Session, post_id: uuid.UUID, user_id: uuid.UUID) -> tuple[bool, int]:
    """(created, likes_count): a second like changes nothing and says so."""
    try:
        created = session.execute(
            insert(Like).values(post_id=post_id, user_id=user_id).on_conflict_do_nothing().returning(Like.post_id)
        ).first()
    except DBAPIError as exc:
        if sqlstate(exc) == FOREIGN_KEY_VIOLATION:  # the post does not exist (or was just deleted)
            raise NotFound("Post not found") from exc
        raise
    if created:
        count = session.scalar(
            update(Post).where(Post.id == post_id).values(likes_count=Post.likes_count + 1).returning(Post.likes_count)
        )
    else:
        count = session.scalar(select(Post.likes_count).where(Post.id == post_id))
    if count is None:
        raise NotFound("Post not found")
    return created is not None, count


def unlike(session: Session, post_id: uuid.UUID, user_id: uuid.UUID) -> None:
    removed = session.execute(
        delete(Like).where(Like.post_id == post_id, Like.user_id == user_id).returning(Like.post_id)
    ).first()
    if removed:
        session.execute(update(Post).where(Post.id == post_id).values(likes_count=Post.likes_count - 1))
    else:
        _post_exists(session, post_id)


@lru_cache(maxsize=2)
def _likers_query(after: bool) -> Select[datetime, uuid.UUID, str, str | None]:
    """Built once per shape, values bound per call (see posts.logic)."""
    query = (
        select(Like.created_at, Like.user_id, User.username, User.avatar_url)
        .join(User, User.id == Like.user_id)
        .where(Like.post_id == bindparam("post_id", type_=Like.post_id.type))
    )
    if after:
        key = tuple_(bindparam("created_at", type_=Like.created_at.type), bindparam("user_id", type_=Like.user_id.type))
        query = query.where(tuple_(Like.created_at, Like.user_id) < key)
    return query.order_by(Like.created_at.desc(), Like.user_id.desc()).limit(bindparam("limit", type_=Integer))


def likers(conn: Connection, post_id: uuid.UUID, limit: int, cursor: str | None) -> tuple[list[LikerRow], str | None]:
    """Newest first. Reads only, so `db.read` may run it twice."""
    _post_exists(conn, post_id)
    params: dict[str, Any] = {"post_id": post_id, "limit": limit + 1}
    if cursor:
        params["created_at"], params["user_id"] = decode_cursor(SCOPE, cursor, (datetime, uuid.UUID))
    rows = list(conn.execute(_likers_query(bool(cursor)), params).all())
    return page_of(rows, limit, SCOPE, lambda row: (row.created_at, row.user_id))
