"""Posts routes: parse, call logic, answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from core import db, storage
from core.http import caller, documented, lambda_handler, make_resolver
from core.schemas import Cursor, Limit, UserSummary
from posts import logic
from posts.schemas import PostIn, PostOut, PostPage, PresignedPost, UploadUrlIn, UploadUrlOut

app = make_resolver()

Author = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{3,50}$", description="only this username's posts")]


def _out(row: Any) -> PostOut:
    return PostOut(
        id=row.id,
        author=UserSummary(id=row.author_id, username=row.username, avatar_url=row.avatar_url),
        content=row.content,
        image_url=storage.public_url(row.image_key) if row.image_key else None,
        likes_count=row.likes_count,
        comments_count=row.comments_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@app.get("/api/v1/posts", summary="The feed, newest first", tags=["posts"])
def feed(limit: Limit = 20, cursor: Cursor = None, author: Author = None) -> PostPage:
    with db.session_scope() as session:
        rows, next_cursor = logic.feed(session, limit, cursor, author)
        return PostPage(items=[_out(r) for r in rows], next_cursor=next_cursor)


@app.post("/api/v1/posts", status_code=201, summary="Publish a post", tags=["posts"])
def create(body: PostIn) -> PostOut:
    with db.session_scope() as session:
        return _out(logic.create(session, caller(app).user_id, body.content, body.image_key))


@app.post(
    "/api/v1/posts/upload-url",
    status_code=201,
    summary="Presigned upload for a post image",
    tags=["posts"],
    openapi_extensions=documented(413),
)
def upload_url(body: UploadUrlIn) -> UploadUrlOut:
    key, presigned, expires_in = logic.upload_url(caller(app).user_id, body.content_type, body.size)
    upload = PresignedPost(url=presigned["url"], fields=presigned["fields"])
    return UploadUrlOut(image_key=key, upload=upload, expires_in=expires_in)


@app.get("/api/v1/posts/<post_id>", summary="One post", tags=["posts"])
def get(post_id: uuid.UUID) -> PostOut:
    with db.session_scope() as session:
        return _out(logic.get(session, post_id))


@app.put(
    "/api/v1/posts/<post_id>",
    summary="Replace a post's content and image (author only)",
    tags=["posts"],
    openapi_extensions=documented(403),
)
def replace(post_id: uuid.UUID, body: PostIn) -> PostOut:
    with db.session_scope() as session:
        return _out(logic.replace(session, post_id, caller(app).user_id, body.content, body.image_key))


@app.delete(
    "/api/v1/posts/<post_id>",
    status_code=204,
    summary="Delete a post (author only)",
    tags=["posts"],
    openapi_extensions=documented(403),
)
def remove(post_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        logic.remove(session, post_id, caller(app).user_id)


handler = lambda_handler(app)
