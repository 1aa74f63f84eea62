"""Posts routes: parse, call logic, answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from core import db, storage
from core.http import caller, documented, lambda_handler, make_resolver
from core.schemas import Limit, cursor_query
from posts import logic
from posts.schemas import PostIn, PostOut, PostPage, PresignedPost, UploadUrlIn, UploadUrlOut

Cursor = Annotated[str | None, cursor_query(logic.FEED)]

app = make_resolver()

Author = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{3,50}$", description="only this username's posts")]


def _fields(row: logic.PostRow) -> dict[str, Any]:
    # Unpacked by position (a Row is a tuple): reading 10 attributes by name costs more than the rest.
    post_id, author_id, content, image_key, likes_count, comments_count, created_at, updated_at, username, avatar = row
    return {
        "id": post_id,
        "author": {"id": author_id, "username": username, "avatar_url": avatar},
        "content": content,
        "image_url": storage.public_url(image_key) if image_key else None,
        "likes_count": likes_count,
        "comments_count": comments_count,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _out(row: logic.PostRow) -> PostOut:
    return PostOut.model_validate(_fields(row))


@app.get("/api/v1/posts", summary="The feed, newest first", tags=["posts"])
def feed(limit: Limit = 20, cursor: Cursor = None, author: Author = None) -> PostPage:
    rows, next_cursor = db.read(logic.feed, limit, cursor, author)
    # One validation for the page (pydantic-core), not two model constructions per post.
    return PostPage.model_validate({"items": [_fields(r) for r in rows], "next_cursor": next_cursor})


@app.post(
    "/api/v1/posts",
    status_code=201,
    summary="Publish a post",
    tags=["posts"],
    openapi_extensions=documented(403, 409, 413),
)
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
    return _out(db.read(logic.get, post_id))


@app.put(
    "/api/v1/posts/<post_id>",
    summary="Replace a post's content and image (author only)",
    tags=["posts"],
    openapi_extensions=documented(403, 409, 413),
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
