"""Comments routes: parse, call logic, answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from comments import logic
from core import db
from core.http import caller, documented, lambda_handler, make_resolver
from core.schemas import JsonBody, Limit, UserSummary, cursor_query
from core.types import Timestamp

Cursor = Annotated[str | None, cursor_query(logic.SCOPE)]

app = make_resolver()


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=280)


class CommentOut(JsonBody):
    id: uuid.UUID
    post_id: uuid.UUID
    author: UserSummary
    content: str
    created_at: Timestamp


class CommentPage(JsonBody):
    items: list[CommentOut]
    next_cursor: str | None


def _fields(row: logic.CommentRow) -> dict[str, Any]:
    comment_id, post_id, author_id, content, created_at, username, avatar = row  # by position: cheaper than names
    author = {"id": author_id, "username": username, "avatar_url": avatar}
    return {"id": comment_id, "post_id": post_id, "author": author, "content": content, "created_at": created_at}


def _out(row: logic.CommentRow) -> CommentOut:
    return CommentOut.model_validate(_fields(row))


@app.get("/api/v1/posts/<post_id>/comments", summary="A post's comments, oldest first", tags=["comments"])
def of_post(post_id: uuid.UUID, limit: Limit = 20, cursor: Cursor = None) -> CommentPage:
    rows, next_cursor = db.read(logic.of_post, post_id, limit, cursor)
    return CommentPage.model_validate({"items": [_fields(r) for r in rows], "next_cursor": next_cursor})


@app.post("/api/v1/posts/<post_id>/comments", status_code=201, summary="Comment on a post", tags=["comments"])
def add(post_id: uuid.UUID, body: CommentIn) -> CommentOut:
    with db.session_scope() as session:
        return _out(logic.add(session, post_id, caller(app).user_id, body.content))


@app.delete(
    "/api/v1/comments/<comment_id>",
    status_code=204,
    summary="Delete a comment (its or the post's author)",
    tags=["comments"],
    openapi_extensions=documented(403),
)
def remove(comment_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        logic.remove(session, comment_id, caller(app).user_id)


handler = lambda_handler(app)
