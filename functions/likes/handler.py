"""Likes routes: parse, call logic, answer."""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Response

from core import db
from core.http import JSON, caller, lambda_handler, make_resolver, route
from core.routes import LIKE, LIKERS, UNLIKE
from core.schemas import Limit, cursor_query
from likes import logic
from likes.schemas import LikeOut, LikerPage

Cursor = Annotated[str | None, cursor_query(logic.SCOPE)]

app = make_resolver()


@route(
    app,
    LIKE,
    status_code=201,
    summary="Like a post (201 when new, 200 when already liked)",
    responses={
        201: {"description": "Liked now", "content": {"application/json": {"model": LikeOut}}},
        200: {"description": "Already liked; nothing changed", "content": {"application/json": {"model": LikeOut}}},
    },
    tags=["likes"],
)
def like(post_id: uuid.UUID) -> Response[LikeOut]:
    with db.session_scope() as session:
        created, count = logic.like(session, post_id, caller(app).user_id)
    body = LikeOut(liked=True, likes_count=count)
    return Response(status_code=201 if created else 200, content_type=JSON, body=body)


@route(app, UNLIKE, status_code=204, summary="Unlike a post (idempotent)", tags=["likes"])
def unlike(post_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        logic.unlike(session, post_id, caller(app).user_id)


@route(app, LIKERS, summary="Who liked a post, newest first", tags=["likes"])
def likers(post_id: uuid.UUID, limit: Limit = 20, cursor: Cursor = None) -> LikerPage:
    rows, next_cursor = db.read(logic.likers, post_id, limit, cursor)
    return LikerPage.of(rows, next_cursor)


handler = coldstart.entry(lambda_handler(app))
