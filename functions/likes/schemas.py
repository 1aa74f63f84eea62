"""Bodies of the likes routes (API.md, Likes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.schemas import JsonBody, UserSummary
from core.types import Timestamp

if TYPE_CHECKING:
    from likes.logic import LikerRow


class LikeOut(JsonBody):
    liked: bool
    likes_count: int


class LikerOut(JsonBody):
    user: UserSummary
    created_at: Timestamp


class LikerPage(JsonBody):
    items: list[LikerOut]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: Sequence[LikerRow], next_cursor: str | None) -> LikerPage:
        items = [
            {"user": {"id": user_id, "username": username, "avatar_url": avatar}, "created_at": created_at}
            for created_at, user_id, username, avatar in rows
        ]
        return cls.model_validate({"items": items, "next_cursor": next_cursor})  # one validation per page
