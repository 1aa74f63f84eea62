"""Likes routes: parse, call logic, answer."""

from __future__ import annotations

import uuid

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from core import db
from core.http import JSON, caller, lambda_handler, make_resolver
from core.schemas import Cursor, Limit, UserSummary
from core.types import Timestamp
from likes import logic

app = make_resolver()


class LikeOut(BaseModel):
    liked: bool
    likes_count: int


class LikerOut(BaseModel):
    user: UserSummary
    created_at: Timestamp


class LikerPage(BaseModel):
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
    with db.session_scope() as session:
        rows, next_cursor = logic.likers(session, post_id, limit, cursor)
    items = [
        LikerOut(user=UserSummary(id=r.user_id, username=r.username, avatar_url=r.avatar_url), created_at=r.created_at)
        for r in rows
    ]
    return LikerPage(items=items, next_cursor=next_cursor)


handler = lambda_handler(app)
