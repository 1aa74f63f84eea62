"""Members of a room or a space: one view, one lookup, one keyset page. The roles and rules differ
per feature (rooms.members, assets.spaces); the rows and how they are read do not."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, Table, select

from core.errors import NotFound
from core.models.user import user_table
from core.pagination import keyset, page_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


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


def _members(members: Table, of_container: ColumnElement[bool]) -> Select[Any]:
    columns = (members.c.user_id, members.c.role, members.c.joined_at, user_table.c.username, user_table.c.avatar_url)
    return select(*columns).join(user_table, user_table.c.id == members.c.user_id).where(of_container)


def member(session: Connection, members: Table, of_container: ColumnElement[bool], user_id: uuid.UUID) -> MemberView:
    """One member (`members`: room_member_table or space_member_table; `of_container`: e.g.
    room_member_table.c.room_id == id)."""
    row = session.execute(_members(members, of_container).where(members.c.user_id == user_id)).first()
    if row is None:
        raise NotFound("Member not found")
    return MemberView.of(row)


def page(
    session: Connection, members: Table, of_container: ColumnElement[bool], scope: str, limit: int, cursor: str | None
) -> tuple[list[MemberView], str | None]:
    """In joining order, keyset on (joined_at, user_id)."""
    query = keyset(
        _members(members, of_container),
        (members.c.joined_at, members.c.user_id),
        scope,
        cursor,
        limit,
        newest_first=False,
    )
    rows, next_cursor = page_of(list(session.execute(query).all()), limit, scope, lambda r: (r.joined_at, r.user_id))
    return [MemberView.of(r) for r in rows], next_cursor
