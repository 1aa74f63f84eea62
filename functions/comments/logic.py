"""Comments: oldest first; comments_count moves in the same transaction as the comment row."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Row, delete, exists, select, tuple_, update
from sqlalchemy.orm import Session

from core.errors import Forbidden, NotFound
from core.models.social import Comment, Post
from core.models.user import User
from core.pagination import decode_cursor, page_of

SCOPE = "comments"
_COLUMNS = (Comment, User.username, User.avatar_url)

CommentRow = Row[Comment, str, str | None]


def _one(session: Session, comment_id: uuid.UUID) -> CommentRow:
    row = session.execute(
        select(*_COLUMNS).join(User, User.id == Comment.author_id).where(Comment.id == comment_id)
    ).one()
    return row


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


def of_post(
    session: Session, post_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[CommentRow], str | None]:
    if not session.scalar(select(exists().where(Post.id == post_id))):
        raise NotFound("Post not found")
    query = select(*_COLUMNS).join(User, User.id == Comment.author_id).where(Comment.post_id == post_id)
    if cursor:
        created_at, comment_id = decode_cursor(SCOPE, cursor, (datetime, uuid.UUID))
        query = query.where(tuple_(Comment.created_at, Comment.id) > tuple_(created_at, comment_id))
    query = query.order_by(Comment.created_at, Comment.id).limit(limit + 1)
    rows = list(session.execute(query).all())
    return page_of(rows, limit, SCOPE, lambda row: (row.Comment.created_at, row.Comment.id))
