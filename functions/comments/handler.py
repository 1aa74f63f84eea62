"""Comments routes: parse, call logic, answer."""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
import uuid
from typing import Annotated

from comments import logic
from comments.schemas import CommentIn, CommentOut, CommentPage
from core import db
from core.http import caller, documented, lambda_handler, make_resolver, route
from core.routes import ADD_COMMENT, DELETE_COMMENT, POST_COMMENTS
from core.schemas import Limit, cursor_query

Cursor = Annotated[str | None, cursor_query(logic.SCOPE)]

app = make_resolver()


@route(app, POST_COMMENTS, summary="A post's comments, oldest first", tags=["comments"])
def of_post(post_id: uuid.UUID, limit: Limit = 20, cursor: Cursor = None) -> CommentPage:
    rows, next_cursor = db.read(logic.of_post, post_id, limit, cursor)
    return CommentPage.of(rows, next_cursor)


@route(app, ADD_COMMENT, status_code=201, summary="Comment on a post", tags=["comments"])
def add(post_id: uuid.UUID, body: CommentIn) -> CommentOut:
    with db.session_scope() as session:
        return CommentOut.of(logic.add(session, post_id, caller(app).user_id, body.content))


@route(
    app,
    DELETE_COMMENT,
    status_code=204,
    summary="Delete a comment (its or the post's author)",
    tags=["comments"],
    openapi_extensions=documented(403),
)
def remove(comment_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        logic.remove(session, comment_id, caller(app).user_id)


handler = coldstart.entry(lambda_handler(app))
