"""Likes: idempotent both ways; likes_count moves in the same transaction as the like row."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, Select, bindparam, delete, exists, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError

from core.db import FOREIGN_KEY_VIOLATION, sqlstate
from core.errors import NotFound
from core.models.social import like_table, post_table
from core.models.user import user_table
from core.pagination import decode_cursor, page_of

SCOPE = "likes"

LikerRow = Row[datetime, uuid.UUID, str, str | None]


_POST_EXISTS = select(exists().where(post_table.c.id == bindparam("post_id", type_=post_table.c.id.type)))


def _post_exists(conn: Connection, post_id: uuid.UUID) -> None:
    if not conn.scalar(_POST_EXISTS, {"post_id": post_id}):
        raise NotFound("Post not found")


def like(session: Connection, post_id: uuid.UUID, user_id: uuid.UUID) -> tuple[bool, int]:
    """(created, likes_count): a second like changes nothing and says so."""
    try:
        created = session.execute(
            insert(like_table)
            .values(post_id=post_id, user_id=user_id)
            .on_conflict_do_nothing()
            .returning(like_table.c.post_id)
        ).first()
    except DBAPIError as exc:
        if sqlstate(exc) == FOREIGN_KEY_VIOLATION:  # the post does not exist (or was just deleted)
            raise NotFound("Post not found") from exc
        raise
    if created:
        count = session.scalar(
            update(post_table)
            .where(post_table.c.id == post_id)
            .values(likes_count=post_table.c.likes_count + 1)
            .returning(post_table.c.likes_count)
        )
    else:
        count = session.scalar(select(post_table.c.likes_count).where(post_table.c.id == post_id))
    if count is None:
        raise NotFound("Post not found")
    return created is not None, count


def unlike(session: Connection, post_id: uuid.UUID, user_id: uuid.UUID) -> None:
    removed = session.execute(
        delete(like_table)
        .where(like_table.c.post_id == post_id, like_table.c.user_id == user_id)
        .returning(like_table.c.post_id)
    ).first()
    if removed:
        session.execute(
            update(post_table).where(post_table.c.id == post_id).values(likes_count=post_table.c.likes_count - 1)
        )
    else:
        _post_exists(session, post_id)


@lru_cache(maxsize=2)
def _likers_query(after: bool) -> Select[datetime, uuid.UUID, str, str | None]:
    """Built once per shape, values bound per call (see posts.logic)."""
    query = (
        select(like_table.c.created_at, like_table.c.user_id, user_table.c.username, user_table.c.avatar_url)
        .join(user_table, user_table.c.id == like_table.c.user_id)
        .where(like_table.c.post_id == bindparam("post_id", type_=like_table.c.post_id.type))
    )
    if after:
        key = tuple_(
            bindparam("created_at", type_=like_table.c.created_at.type),
            bindparam("user_id", type_=like_table.c.user_id.type),
        )
        query = query.where(tuple_(like_table.c.created_at, like_table.c.user_id) < key)
    return query.order_by(like_table.c.created_at.desc(), like_table.c.user_id.desc()).limit(
        bindparam("limit", type_=Integer)
    )


def likers(conn: Connection, post_id: uuid.UUID, limit: int, cursor: str | None) -> tuple[list[LikerRow], str | None]:
    """Newest first. Reads only, so `db.read` may run it twice."""
    _post_exists(conn, post_id)
    params: dict[str, Any] = {"post_id": post_id, "limit": limit + 1}
    if cursor:
        params["created_at"], params["user_id"] = decode_cursor(SCOPE, cursor, (datetime, uuid.UUID))
    rows = list(conn.execute(_likers_query(bool(cursor)), params).all())
    return page_of(rows, limit, SCOPE, lambda row: (row.created_at, row.user_id))
