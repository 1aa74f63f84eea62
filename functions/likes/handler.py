"""Likes routes: parse, call logic, answer."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Response

from core import db
from core.http import JSON, caller, lambda_handler, make_resolver
from core.schemas import JsonBody, Limit, UserSummary, cursor_query
from core.types import Timestamp
from likes import logic

Cursor = Annotated[str | None, cursor_query(logic.SCOPE)]

app = make_resolver()


class LikeOut(JsonBody):
    liked: bool
    likes_count: int


class LikerOut(JsonBody):
    user: UserSummary
    created_at: Timestamp


class LikerPage(JsonBody):
    items: list[LikerOut]
    next_cursor: str | None


@app.post(
    "/api/v1/posts/<post_id>/likes",
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


@app.delete("/api/v1/posts/<post_id>/likes", status_code=204, summary="Unlike a post (idempotent)", tags=["likes"])
def unlike(post_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        logic.unlike(session, post_id, caller(app).user_id)


@app.get("/api/v1/posts/<post_id>/likes", summary="Who liked a post, newest first", tags=["likes"])
def likers(post_id: uuid.UUID, limit: Limit = 20, cursor: Cursor = None) -> LikerPage:
    rows, next_cursor = db.read(logic.likers, post_id, limit, cursor)
    items = [
        {"user": {"id": user_id, "username": username, "avatar_url": avatar}, "created_at": created_at}
        for created_at, user_id, username, avatar in rows
    ]
    return LikerPage.model_validate({"items": items, "next_cursor": next_cursor})  # one validation per page


handler = lambda_handler(app)
