"""Bodies of the comments routes (API.md, Comments)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from core.schemas import JsonBody, UserSummary
from core.types import Timestamp

if TYPE_CHECKING:
    from comments.logic import CommentRow


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=280)


class CommentOut(JsonBody):
    id: uuid.UUID
    post_id: uuid.UUID
    author: UserSummary
    content: str
    created_at: Timestamp

    @classmethod
    def of(cls, row: CommentRow) -> CommentOut:
        return cls.model_validate(_fields(row))


class CommentPage(JsonBody):
    items: list[CommentOut]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: Sequence[CommentRow], next_cursor: str | None) -> CommentPage:
        return cls.model_validate({"items": [_fields(r) for r in rows], "next_cursor": next_cursor})


def _fields(row: CommentRow) -> dict[str, Any]:
    comment_id, post_id, author_id, content, created_at, username, avatar = row  # by position: cheaper than names
    author = {"id": author_id, "username": username, "avatar_url": avatar}
    return {"id": comment_id, "post_id": post_id, "author": author, "content": content, "created_at": created_at}
