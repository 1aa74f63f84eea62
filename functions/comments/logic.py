"""Comments: oldest first; comments_count moves in the same transaction as the comment row."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, Select, bindparam, delete, exists, select, tuple_, update
from sqlalchemy.orm import Session

from core.errors import Forbidden, NotFound
from core.orm.social import Comment, Post
from core.orm.user import User
from core.pagination import decode_cursor, page_of

SCOPE = "comments"
# Plain columns, not entities (as in posts.logic): no identity map for a page of comments.
_COLUMNS = (
    Comment.id,
    Comment.post_id,
    Comment.author_id,
    Comment.content,
    Comment.created_at,
    User.username,
    User.avatar_url,
)

CommentRow = Row[uuid.UUID, uuid.UUID, uuid.UUID, str, datetime, str, str | None]

_ONE = (
    select(*_COLUMNS)
    .join(User, User.id == Comment.author_id)
    .where(Comment.id == bindparam("comment_id", type_=Comment.id.type))
)
_POST_EXISTS = select(exists().where(Post.id == bindparam("post_id", type_=Post.id.type)))


def _one(session: Session, comment_id: uuid.UUID) -> CommentRow:
    return session.execute(_ONE, {"comment_id": comment_id}).one()


def add(session: Session, post_id: uuid.UUID, author_id: uuid.UUID, content: str) -> CommentRow:
    # Counting first locks the post row, so a concurrent delete cannot strand the comment.
    counted = session.scalar(
        update(Post).where(Post.id == post_id).values(comments_count=Post.comments_count + 1).returning(Post.id)
    )
    if counted is None:
        raise NotFound("Post not found")
    comment = Comment(id=uuid.uuid4(), post_id=post_id, author_id=author_id, content=content)
    session.add(comment)
    session.flush()
    return _one(session, comment.id)


def remove(session: Session, comment_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The comment's author or the post's author may delete it."""
    row = session.execute(
        select(Comment.post_id, Comment.author_id, Post.author_id.label("post_author_id"))
        .join(Post, Post.id == Comment.post_id)
        .where(Comment.id == comment_id)
        .with_for_update(of=Comment)
    ).first()
    if row is None:
        raise NotFound("Comment not found")
    if user_id not in (row.author_id, row.post_author_id):
        raise Forbidden("Only the comment's or the post's author may delete it")
    session.execute(delete(Comment).where(Comment.id == comment_id))
    session.execute(update(Post).where(Post.id == row.post_id).values(comments_count=Post.comments_count - 1))


@lru_cache(maxsize=2)
def _page_query(after: bool) -> Select[uuid.UUID, uuid.UUID, uuid.UUID, str, datetime, str, str | None]:
    """Built once per shape, values bound per call (see posts.logic)."""
    query = (
        select(*_COLUMNS)
        .join(User, User.id == Comment.author_id)
        .where(Comment.post_id == bindparam("post_id", type_=Comment.post_id.type))
    )
    if after:
        key = tuple_(bindparam("created_at", type_=Comment.created_at.type), bindparam("id", type_=Comment.id.type))
        query = query.where(tuple_(Comment.created_at, Comment.id) > key)
    return query.order_by(Comment.created_at, Comment.id).limit(bindparam("limit", type_=Integer))


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
