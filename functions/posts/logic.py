"""Posts: the feed (keyset, one statement a page), ownership, images kept under the author's prefix
and shown only as the media pipeline's metadata-free variants (post_images, joined)."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, Select, bindparam, delete, func, insert, select, tuple_, update

from core import keys, storage
from core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge
from core.models.social import post_image_table, post_table
from core.models.user import user_table
from core.pagination import decode_cursor, page_of
from posts.settings import PostSettings

FEED = "posts"

# Plain columns: a page of 20-100 posts is rows, nothing more.
_COLUMNS = (
    post_table.c.id,
    post_table.c.author_id,
    post_table.c.content,
    post_table.c.image_key,
    post_table.c.likes_count,
    post_table.c.comments_count,
    post_table.c.created_at,
    post_table.c.updated_at,
    user_table.c.username,
    user_table.c.avatar_url,
    post_image_table.c.status,
    post_image_table.c.variants,
)

PostRow = Row[
    uuid.UUID,
    uuid.UUID,
    str,
    str | None,
    int,
    int,
    datetime,
    datetime,
    str,
    str | None,
    str | None,
    list[dict[str, Any]] | None,
]


def upload_url(user_id: uuid.UUID, content_type: str, size: int) -> tuple[str, dict[str, Any], int]:
    """A presigned POST where S3 enforces the type and at most the declared size."""
    largest = PostSettings.current().post_image_max_bytes
    if size > largest:
        raise PayloadTooLarge(f"Post images are at most {largest} bytes")
    key = keys.post_image_key(user_id, uuid.uuid4().hex, keys.POST_IMAGE_EXTENSIONS[content_type])
    ttl = storage.StorageSettings.current().upload_url_ttl_s
    presigned = storage.presigned_post(key, content_type, size, ttl)
    return key, presigned, ttl


def _check_image(user_id: uuid.UUID, key: str) -> None:
    """A key of the issued shape (the schema's pattern) that cannot be used is the caller's or the
    upload's state, not a malformed body: someone else's key is 403, an upload not (or no longer)
    there or refused is 409, too large is 413."""
    found = keys.POST_IMAGE_KEY.match(key)
    if found is None or found["user"] != str(user_id):
        raise Forbidden("This image key was not issued to you by POST /posts/upload-url")
    size = storage.object_size(key)
    if size is None:
        raise Conflict("Nothing was uploaded under this image key yet")
    largest = PostSettings.current().post_image_max_bytes
    if size > largest:
        raise PayloadTooLarge(f"Post images are at most {largest} bytes")
    if storage.refused_by_pipeline(key):  # the pipeline may finish before or after this post
        raise Conflict("The image was refused (malware or not the declared type)")


def _with_author() -> Select[*tuple[Any, ...]]:
    # What the media pipeline made of the image, in the same statement (no row yet: processing).
    return (
        select(*_COLUMNS)
        .join(user_table, user_table.c.id == post_table.c.author_id)
        .outerjoin(post_image_table, post_image_table.c.image_key == post_table.c.image_key)
    )


# Statements built once, values bound per call: SQLAlchemy compiles each shape once (cache hit)
# and, as the very statement it compiled comes back, reuses its result metadata as is.
_ONE = _with_author().where(post_table.c.id == bindparam("post_id", type_=post_table.c.id.type))
_AUTHOR_ID = select(user_table.c.id).where(
    func.lower(user_table.c.username) == bindparam("username", type_=user_table.c.username.type)
)


@lru_cache(maxsize=4)
def _feed_query(by_author: bool, after: bool) -> Select[*tuple[Any, ...]]:
    query = _with_author()
    if by_author:
        query = query.where(post_table.c.author_id == bindparam("author_id", type_=post_table.c.author_id.type))
    if after:
        key = tuple_(
            bindparam("created_at", type_=post_table.c.created_at.type),
            bindparam("post_id", type_=post_table.c.id.type),
        )
        query = query.where(tuple_(post_table.c.created_at, post_table.c.id) < key)
    return query.order_by(post_table.c.created_at.desc(), post_table.c.id.desc()).limit(
        bindparam("limit", type_=Integer)
    )


def _one(conn: Connection, post_id: uuid.UUID) -> PostRow:
    row = conn.execute(_ONE, {"post_id": post_id}).first()
    if row is None:
        raise NotFound("Post not found")
    return row


def feed(conn: Connection, limit: int, cursor: str | None, author: str | None) -> tuple[list[PostRow], str | None]:
    """One page of the feed (or of one author's posts); reads only, so `db.read` may run it twice."""
    params: dict[str, Any] = {"limit": limit + 1}
    if author is not None:
        params["author_id"] = conn.scalar(_AUTHOR_ID, {"username": author.lower()})
        if params["author_id"] is None:
            return [], None
    if cursor:
        params["created_at"], params["post_id"] = decode_cursor(FEED, cursor, (datetime, uuid.UUID))
    query = _feed_query(author is not None, bool(cursor))
    rows = list(conn.execute(query, params).all())
    return page_of(rows, limit, FEED, lambda row: (row.created_at, row.id))


def get(conn: Connection, post_id: uuid.UUID) -> PostRow:
    return _one(conn, post_id)


def create(session: Connection, author_id: uuid.UUID, content: str, image_key: str | None) -> PostRow:
    if image_key is not None:
        _check_image(author_id, image_key)
    post_id = uuid.uuid4()
    session.execute(insert(post_table).values(id=post_id, author_id=author_id, content=content, image_key=image_key))
    return _one(session, post_id)


_OWNED = (
    select(post_table.c.author_id, post_table.c.image_key)
    .where(post_table.c.id == bindparam("post_id", type_=post_table.c.id.type))
    .with_for_update()
)


def _owned(session: Connection, post_id: uuid.UUID, user_id: uuid.UUID) -> Row[uuid.UUID, str | None]:
    post = session.execute(_OWNED, {"post_id": post_id}).one_or_none()
    if post is None:
        raise NotFound("Post not found")
    if post.author_id != user_id:
        raise Forbidden("Only the author may change this post")
    return post


def replace(
    session: Connection, post_id: uuid.UUID, user_id: uuid.UUID, content: str, image_key: str | None
) -> PostRow:
    post = _owned(session, post_id, user_id)
    if image_key is not None and image_key != post.image_key:
        _check_image(user_id, image_key)
    old_key = post.image_key
    session.execute(
        update(post_table)
        .where(post_table.c.id == post_id)
        .values(content=content, image_key=image_key, updated_at=func.now())
    )
    if old_key and old_key != image_key:
        storage.tag_deleted(old_key)
    return _one(session, post_id)


def remove(session: Connection, post_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Likes and comments go with it (foreign keys); its image expires by lifecycle rule."""
    post = _owned(session, post_id, user_id)
    session.execute(delete(post_table).where(post_table.c.id == post_id))
    if post.image_key:
        storage.tag_deleted(post.image_key)
