"""Posts routes: parse, call logic, answer."""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from core import db
from core.http import caller, documented, lambda_handler, make_resolver, route
from core.routes import CREATE_POST, DELETE_POST, FEED, GET_POST, POST_UPLOAD_URL, REPLACE_POST
from core.schemas import Limit, cursor_query
from posts import logic
from posts.schemas import PostIn, PostOut, PostPage, UploadUrlIn, UploadUrlOut

Cursor = Annotated[str | None, cursor_query(logic.FEED)]

app = make_resolver()

Author = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{3,50}$", description="only this username's posts")]


@route(app, FEED, summary="The feed, newest first", tags=["posts"])
def feed(limit: Limit = 20, cursor: Cursor = None, author: Author = None) -> PostPage:
    rows, next_cursor = db.read(logic.feed, limit, cursor, author)
    return PostPage.of(rows, next_cursor)


@route(
    app,
    CREATE_POST,
    status_code=201,
    summary="Publish a post",
    tags=["posts"],
    openapi_extensions=documented(403, 409, 413),
)
def create(body: PostIn) -> PostOut:
    with db.session_scope() as session:
        return PostOut.of(logic.create(session, caller(app).user_id, body.content, body.image_key))


@route(
    app,
    POST_UPLOAD_URL,
    status_code=201,
    summary="Presigned upload for a post image",
    tags=["posts"],
    openapi_extensions=documented(413),
)
def upload_url(body: UploadUrlIn) -> UploadUrlOut:
    key, presigned, expires_in = logic.upload_url(caller(app).user_id, body.content_type, body.size)
    return UploadUrlOut.of(key, presigned, expires_in)


@route(app, GET_POST, summary="One post", tags=["posts"])
def get(post_id: uuid.UUID) -> PostOut:
    return PostOut.of(db.read(logic.get, post_id))


@route(
    app,
    REPLACE_POST,
    summary="Replace a post's content and image (author only)",
    tags=["posts"],
    openapi_extensions=documented(403, 409, 413),
)
def replace(post_id: uuid.UUID, body: PostIn) -> PostOut:
    with db.session_scope() as session:
        return PostOut.of(logic.replace(session, post_id, caller(app).user_id, body.content, body.image_key))


@route(
    app,
    DELETE_POST,
    status_code=204,
    summary="Delete a post (author only)",
    tags=["posts"],
    openapi_extensions=documented(403),
)
def remove(post_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        logic.remove(session, post_id, caller(app).user_id)


handler = coldstart.entry(lambda_handler(app))
