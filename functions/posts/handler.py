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


def _image(image_key: str | None, status: str | None, variants: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Only the pipeline's variants are ever shown, never the original (its EXIF may hold GPS)."""
    if image_key is None:
        return {"image_status": None, "image_url": None, "image_variants": []}
    if status != "ready":  # no row yet or claimed: processing; refused stays refused
        return {
            "image_status": status if status == "refused" else "processing",
            "image_url": None,
            "image_variants": [],
        }
    shown = [
        {
            "kind": v["kind"],
            "url": storage.variant_url(v["key"], v.get("version_id")),
            "width": v.get("width"),
            "height": v.get("height"),
            "content_type": v["content_type"],
        }
        for v in variants or ()
    ]
    url = next((v["url"] for v in shown if v["kind"] == "preview"), None)
    return {"image_status": "ready", "image_url": url, "image_variants": shown}


def _fields(row: logic.PostRow) -> dict[str, Any]:
    # Unpacked by position (a Row is a tuple): reading 12 attributes by name costs more than the rest.
    (
        post_id,
        author_id,
        content,
        image_key,
        likes_count,
        comments_count,
        created_at,
        updated_at,
        username,
        avatar,
        image_status,
        image_variants,
    ) = row
    return {
        "id": post_id,
        "author": {"id": author_id, "username": username, "avatar_url": avatar},
        "content": content,
        **_image(image_key, image_status, image_variants),
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
