"""Members of a room or a space: one view, one lookup, one keyset page. The roles and rules differ
per feature (rooms.members, assets.spaces); the rows and how they are read do not."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, select

from core.errors import NotFound
from core.orm.user import User
from core.pagination import keyset, page_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class MemberView:
    user_id: uuid.UUID
    username: str
    avatar_url: str | None
    role: str
    joined_at: datetime

    @classmethod
    def of(cls, row: Any) -> MemberView:
        return cls(row.user_id, row.username, row.avatar_url, row.role, row.joined_at)


def _members(model: Any, of_container: ColumnElement[bool]) -> Select[Any]:
    columns = (model.user_id, model.role, model.joined_at, User.username, User.avatar_url)
    return select(*columns).join(User, User.id == model.user_id).where(of_container)


def member(session: Session, model: Any, of_container: ColumnElement[bool], user_id: uuid.UUID) -> MemberView:
    """One member (`model`: RoomMember or SpaceMember; `of_container`: e.g. RoomMember.room_id == id)."""
    row = session.execute(_members(model, of_container).where(model.user_id == user_id)).first()
    if row is None:
        raise NotFound("Member not found")
    return MemberView.of(row)


def page(
    session: Session, model: Any, of_container: ColumnElement[bool], scope: str, limit: int, cursor: str | None
) -> tuple[list[MemberView], str | None]:
    """In joining order, keyset on (joined_at, user_id)."""
    query = keyset(
        _members(model, of_container), (model.joined_at, model.user_id), scope, cursor, limit, newest_first=False
    )
    rows, next_cursor = page_of(list(session.execute(query).all()), limit, scope, lambda r: (r.joined_at, r.user_id))
    return [MemberView.of(r) for r in rows], next_cursor
