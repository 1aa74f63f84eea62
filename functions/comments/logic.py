"""Comments: oldest first; comments_count moves in the same transaction as the comment row."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, Select, bindparam, delete, exists, insert, select, tuple_, update

from core.errors import Forbidden, NotFound
from core.models.social import comment_table, post_table
from core.models.user import user_table
from core.pagination import decode_cursor, page_of

SCOPE = "comments"
# Plain columns (as in posts.logic): a page of comments is rows.
_COLUMNS = (
    comment_table.c.id,
    comment_table.c.post_id,
    comment_table.c.author_id,
    comment_table.c.content,
    comment_table.c.created_at,
    user_table.c.username,
    user_table.c.avatar_url,
)

CommentRow = Row[uuid.UUID, uuid.UUID, uuid.UUID, str, datetime, str, str | None]

_ONE = (
    select(*_COLUMNS)
    .join(user_table, user_table.c.id == comment_table.c.author_id)
    .where(comment_table.c.id == bindparam("comment_id", type_=comment_table.c.id.type))
)
_POST_EXISTS = select(exists().where(post_table.c.id == bindparam("post_id", type_=post_table.c.id.type)))


def _one(session: Connection, comment_id: uuid.UUID) -> CommentRow:
    return session.execute(_ONE, {"comment_id": comment_id}).one()


def add(session: Connection, post_id: uuid.UUID, author_id: uuid.UUID, content: str) -> CommentRow:
    # Counting first locks the post row, so a concurrent delete cannot strand the comment.
    counted = session.scalar(
        update(post_table)
        .where(post_table.c.id == post_id)
        .values(comments_count=post_table.c.comments_count + 1)
        .returning(post_table.c.id)
    )
    if counted is None:
        raise NotFound("Post not found")
    comment_id = uuid.uuid4()
    session.execute(insert(comment_table).values(id=comment_id, post_id=post_id, author_id=author_id, content=content))
    return _one(session, comment_id)


def remove(session: Connection, comment_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The comment's author or the post's author may delete it."""
    row = session.execute(
        select(comment_table.c.post_id, comment_table.c.author_id, post_table.c.author_id.label("post_author_id"))
        .join(post_table, post_table.c.id == comment_table.c.post_id)
        .where(comment_table.c.id == comment_id)
        .with_for_update(of=comment_table)
    ).first()
    if row is None:
        raise NotFound("Comment not found")
    if user_id not in (row.author_id, row.post_author_id):
        raise Forbidden("Only the comment's or the post's author may delete it")
    session.execute(delete(comment_table).where(comment_table.c.id == comment_id))
    session.execute(
        update(post_table).where(post_table.c.id == row.post_id).values(comments_count=post_table.c.comments_count - 1)
    )


@lru_cache(maxsize=2)
def _page_query(after: bool) -> Select[uuid.UUID, uuid.UUID, uuid.UUID, str, datetime, str, str | None]:
    """Built once per shape, values bound per call (see posts.logic)."""
    query = (
        select(*_COLUMNS)
        .join(user_table, user_table.c.id == comment_table.c.author_id)
        .where(comment_table.c.post_id == bindparam("post_id", type_=comment_table.c.post_id.type))
    )
    if after:
        key = tuple_(
            bindparam("created_at", type_=comment_table.c.created_at.type),
            bindparam("id", type_=comment_table.c.id.type),
        )
        query = query.where(tuple_(comment_table.c.created_at, comment_table.c.id) > key)
    return query.order_by(comment_table.c.created_at, comment_table.c.id).limit(bindparam("limit", type_=Integer))


def of_post(
    conn: Connection, post_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[CommentRow], str | None]:
    """Oldest first. Reads only, so `db.read` may run it twice."""
    if not conn.scalar(_POST_EXISTS, {"post_id": post_id}):
        raise NotFound("Post not found")
    params: dict[str, Any] = {"post_id": post_id, "limit": limit + 1}
    if cursor:
        params["created_at"], params["id"] = decode_cursor(SCOPE, cursor, (datetime, uuid.UUID))
    rows = list(conn.execute(_page_query(bool(cursor)), params).all())
    return page_of(rows, limit, SCOPE, lambda row: (row.created_at, row.id))
