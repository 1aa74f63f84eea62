"""Groups (issue 19.3): a name, one manager (the creator) and members, for inviting many people to a
room in one request (rooms.group_invitations).

Who sees what: a group exists for its manager and its members only; to anyone else it is a 404,
so a group's existence never leaks. Its members see it, its member list, and may leave it; only
the manager renames it, adds and removes members, and deletes it (403 for a member).

A group holds at most GROUP_MAX_MEMBERS members: adding one locks the group's row, counts and
inserts in that transaction, so two managers' tabs adding at once cannot pass the limit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from core.errors import Conflict, Forbidden, NotFound
from core.models.groups import group_member_table, group_table
from core.models.user import user_table
from core.pagination import keyset, page_of
from rooms import scopes
from rooms.limits import GROUP_MAX_MEMBERS

SCOPE = scopes.GROUPS
MEMBERS_SCOPE = scopes.GROUP_MEMBERS
_group, _member, _user = group_table.c, group_member_table.c, user_table.c


@dataclass(frozen=True)
class GroupView:
    id: uuid.UUID
    name: str
    manager_id: uuid.UUID
    manager_username: str
    manager_avatar_url: str | None
    member_count: int
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> GroupView:
        return cls(
            row.id,
            row.name,
            row.manager_id,
            row.manager_username,
            row.manager_avatar_url,
            row.member_count,
            row.created_at,
        )


@dataclass(frozen=True)
class GroupMemberView:
    user_id: uuid.UUID
    username: str
    avatar_url: str | None
    added_at: datetime


def _member_count() -> Any:
    return (
        select(func.count())
        .select_from(group_member_table)
        .where(_member.group_id == _group.id)
        .correlate(group_table)
        .scalar_subquery()
        .label("member_count")
    )


def _group_query() -> Any:
    manager = user_table.alias("manager")
    return select(
        _group.id,
        _group.name,
        _group.manager_id,
        _group.created_at,
        manager.c.username.label("manager_username"),
        manager.c.avatar_url.label("manager_avatar_url"),
        _member_count(),
    ).join(manager, manager.c.id == _group.manager_id)


def _is_member(user_id: uuid.UUID) -> ColumnElement[bool]:
    return exists().where(_member.group_id == _group.id, _member.user_id == user_id)


def seen_by(user_id: uuid.UUID) -> ColumnElement[bool]:
    """The groups `user_id` may know of: those they manage or belong to."""
    return or_(_group.manager_id == user_id, _is_member(user_id))


def _unknown_users(session: Connection, usernames: list[str]) -> dict[str, uuid.UUID]:
    """{lowercased username: id} of the given usernames; Conflict naming every unknown one."""
    wanted = sorted({name.lower() for name in usernames})
    if not wanted:
        return {}
    found = {
        row.name: row.id
        for row in session.execute(
            select(func.lower(_user.username).label("name"), _user.id).where(func.lower(_user.username).in_(wanted))
        )
    }
    missing = [name for name in wanted if name not in found]
    if missing:
        details = [
            {"field": "members", "in": "body", "message": f"no user named {name}", "type": "unknown_user"}
            for name in missing
        ]
        raise Conflict("No user with that username", details=details)
    return found


def _full(count: int) -> Conflict:
    detail = {"field": "members", "in": "body", "message": f"at most {GROUP_MAX_MEMBERS}", "type": "group_full"}
    return Conflict(
        f"A group holds at most {GROUP_MAX_MEMBERS} members (it would have {count})",
        code="group_full",
        details=[detail],
    )


def create(session: Connection, actor_id: uuid.UUID, name: str, usernames: list[str]) -> GroupView:
    """The creator manages the group; `usernames` (case-insensitive, repeats once) become its members."""
    users = _unknown_users(session, usernames)
    if len(users) > GROUP_MAX_MEMBERS:
        raise _full(len(users))
    group_id = uuid.uuid4()
    session.execute(insert(group_table).values(id=group_id, name=name, manager_id=actor_id))
    if users:
        session.execute(
            insert(group_member_table).values([{"group_id": group_id, "user_id": uid} for uid in users.values()])
        )
    return get(session, group_id, actor_id)


def get(session: Connection, group_id: uuid.UUID, user_id: uuid.UUID) -> GroupView:
    """The manager or a member; anyone else 404."""
    row = session.execute(_group_query().where(_group.id == group_id, seen_by(user_id))).first()
    if row is None:
        raise NotFound("Group not found")
    return GroupView.of(row)


def mine(session: Connection, user_id: uuid.UUID, limit: int, cursor: str | None) -> tuple[list[GroupView], str | None]:
    """Groups I manage or belong to, newest first."""
    query = keyset(_group_query().where(seen_by(user_id)), (_group.created_at, _group.id), SCOPE, cursor, limit)
    rows, next_cursor = page_of(list(session.execute(query).all()), limit, SCOPE, lambda r: (r.created_at, r.id))
    return [GroupView.of(r) for r in rows], next_cursor


def _managed(session: Connection, group_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False) -> None:
    """The manager passes; a member is 403; anyone else 404. `lock`: the group's row until commit."""
    query = select(_group.manager_id).where(_group.id == group_id, seen_by(user_id))
    if lock:
        query = query.with_for_update(of=group_table)
    manager_id = session.scalar(query)
    if manager_id is None:
        raise NotFound("Group not found")
    if manager_id != user_id:
        raise Forbidden("Only the group's manager may change it")


def rename(session: Connection, group_id: uuid.UUID, actor_id: uuid.UUID, name: str) -> GroupView:
    _managed(session, group_id, actor_id)
    session.execute(update(group_table).where(_group.id == group_id).values(name=name, updated_at=func.now()))
    return get(session, group_id, actor_id)


def remove(session: Connection, group_id: uuid.UUID, actor_id: uuid.UUID) -> None:
    """The manager deletes the group; invitations already sent from it stay."""
    _managed(session, group_id, actor_id)
    session.execute(delete(group_table).where(_group.id == group_id))


_MEMBER_COLUMNS = (_member.user_id, _member.added_at, _user.username, _user.avatar_url)


def members(
    session: Connection, group_id: uuid.UUID, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[GroupMemberView], str | None]:
    """The manager or a member: the members, in the order they were added."""
    get(session, group_id, user_id)
    query = select(*_MEMBER_COLUMNS).join(user_table, _user.id == _member.user_id).where(_member.group_id == group_id)
    query = keyset(query, (_member.added_at, _member.user_id), MEMBERS_SCOPE, cursor, limit, newest_first=False)
    rows, next_cursor = page_of(
        list(session.execute(query).all()), limit, MEMBERS_SCOPE, lambda r: (r.added_at, r.user_id)
    )
    return [GroupMemberView(r.user_id, r.username, r.avatar_url, r.added_at) for r in rows], next_cursor


def add_member(session: Connection, group_id: uuid.UUID, actor_id: uuid.UUID, username: str) -> GroupMemberView:
    """The manager adds one user (409: unknown, already a member, or the group is full)."""
    _managed(session, group_id, actor_id, lock=True)
    user_id = _unknown_users(session, [username])[username.lower()]
    count = (
        session.scalar(select(func.count()).select_from(group_member_table).where(_member.group_id == group_id)) or 0
    )
    if count >= GROUP_MAX_MEMBERS:
        raise _full(count + 1)
    added = session.execute(
        insert(group_member_table)
        .values(group_id=group_id, user_id=user_id)
        .on_conflict_do_nothing()
        .returning(_member.added_at)
    ).first()
    if added is None:
        raise Conflict("That user is already a member of this group")
    row = session.execute(select(_user.username, _user.avatar_url).where(_user.id == user_id)).one()
    return GroupMemberView(user_id, row.username, row.avatar_url, added.added_at)


def remove_member(session: Connection, group_id: uuid.UUID, actor_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The manager removes anyone; a member removes only themselves (leaves)."""
    if user_id != actor_id:
        _managed(session, group_id, actor_id)
    else:
        get(session, group_id, actor_id)
    gone = session.execute(
        delete(group_member_table)
        .where(_member.group_id == group_id, _member.user_id == user_id)
        .returning(_member.user_id)
    ).first()
    if gone is None:
        raise NotFound("Member not found")
