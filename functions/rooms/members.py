"""Membership: list, change roles, remove or leave, transfer ownership.

Rules (API.md): admins and the master manage members strictly below their own
role and may only grant roles below it; `master` changes hands only by transfer
(the old master becomes admin); anyone may leave except the master.
Every change is one conditional UPDATE/DELETE, so two racing managers cannot
both act on a stale view.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, case, delete, func, literal, select, update

from core import memberships
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.memberships import MemberView
from core.models.rooms import room_member_table, room_table
from core.room_access import below, room_for
from rooms import events, scopes

SCOPE = scopes.ROOM_MEMBERS
_member, _room = room_member_table.c, room_table.c


def member(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> MemberView:
    return memberships.member(session, room_member_table, _member.room_id == room_id, user_id)


def listing(
    session: Connection, room_id: uuid.UUID, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[MemberView], str | None]:
    """Reader+. In joining order."""
    room_for(session, room_id, user_id)
    return memberships.page(session, room_member_table, _member.room_id == room_id, SCOPE, limit, cursor)


def _target_role(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> str:
    role = session.scalar(
        select(_member.role).where(_member.room_id == room_id, _member.user_id == user_id).with_for_update()
    )
    if role is None:
        raise NotFound("Member not found")
    return role


def change_role(
    session: Connection, room_id: uuid.UUID, actor_id: uuid.UUID, target_id: uuid.UUID, role: str
) -> MemberView:
    """Admin+, on a member below the actor, to a role below the actor's."""
    if role == "master":
        detail = {"field": "role", "in": "body", "message": "use PATCH /rooms/{room_id}/owner", "type": "value"}
        raise ValidationFailed("The master role changes hands only by transfer", details=[detail])
    room = room_for(session, room_id, actor_id, at_least="admin", lock=True)
    current = _target_role(session, room_id, target_id)
    if not below(current, room.my_role) or not below(role, room.my_role):
        raise Forbidden("You may only manage members, and grant roles, below your own role")
    session.execute(
        update(room_member_table).where(_member.room_id == room_id, _member.user_id == target_id).values(role=role)
    )
    changed = member(session, room_id, target_id)
    events.member(session, "member.role_changed", room_id, changed)
    return changed


def remove(session: Connection, room_id: uuid.UUID, actor_id: uuid.UUID, target_id: uuid.UUID) -> None:
    """Leave (self), or remove a member below you (admin+). The master cannot leave without a transfer."""
    room = room_for(session, room_id, actor_id, lock=True)
    if target_id == actor_id:
        if room.my_role == "master":
            raise Conflict("The master cannot leave; transfer ownership first (PATCH /rooms/{room_id}/owner)")
    else:
        current = _target_role(session, room_id, target_id)
        if not room.at_least("admin") or not below(current, room.my_role):
            raise Forbidden("You may only remove members below your own role")
    session.execute(delete(room_member_table).where(_member.room_id == room_id, _member.user_id == target_id))
    events.member_left(session, room_id, target_id)


def mark_read(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID, seq: int) -> int:
    """Reader+ (any member): I have read up to `seq`. One statement: it never moves backwards
    (GREATEST), and a seq beyond the room's newest names no message, so it changes nothing and is
    409 (storing it would mark messages not yet sent as read). The stored value comes back."""
    row = session.execute(
        update(room_member_table)
        .where(
            _member.room_id == room_id,
            _member.user_id == user_id,
            _room.id == _member.room_id,
            _room.deleted_at.is_(None),
        )
        .values(
            last_read_seq=case(
                (literal(seq) <= _room.last_seq, func.greatest(_member.last_read_seq, seq)),
                else_=_member.last_read_seq,
            )
        )
        .returning(_member.last_read_seq, _room.last_seq)
    ).first()
    if row is None:
        raise NotFound("Room not found")
    if seq > row.last_seq:
        detail = {"field": "seq", "in": "body", "message": f"the room's newest seq is {row.last_seq}", "type": "value"}
        raise Conflict("No message of this room has that seq yet", details=[detail])
    return int(row.last_read_seq)


def transfer(session: Connection, room_id: uuid.UUID, actor_id: uuid.UUID, target_id: uuid.UUID) -> MemberView:
    """Master only: the target becomes master, the old master admin, in one transaction.

    Demoting first keeps the one-master index satisfied; the demotion is conditional
    (`role = 'master'`), so of two racing transfers the second finds no master to demote.
    """
    room_for(session, room_id, actor_id, at_least="master")
    if target_id == actor_id:
        raise Conflict("You are already the master")
    # The target must be a member (locked until the transfer commits). Not one is a conflict with the
    # room's membership, not a 404: the URL names the room, which exists.
    target = session.scalar(
        select(_member.role).where(_member.room_id == room_id, _member.user_id == target_id).with_for_update()
    )
    if target is None:
        raise Conflict("Ownership can only go to a member of the room", details=[_user_detail()])
    demoted = session.execute(
        update(room_member_table)
        .where(_member.room_id == room_id, _member.user_id == actor_id, _member.role == "master")
        .values(role="admin")
        .returning(_member.user_id)
    ).first()
    if demoted is None:
        raise Forbidden("Only the master may transfer ownership")
    promoted = session.execute(
        update(room_member_table)
        .where(_member.room_id == room_id, _member.user_id == target_id)
        .values(role="master")
        .returning(_member.user_id)
    ).first()
    if promoted is None:  # cannot happen: the target's row is locked
        raise Conflict("Ownership can only go to a member of the room", details=[_user_detail()])
    events.member(session, "member.role_changed", room_id, member(session, room_id, actor_id))
    new_master = member(session, room_id, target_id)
    events.member(session, "member.role_changed", room_id, new_master)
    return new_master


def _user_detail() -> dict[str, str]:
    return {"field": "user_id", "in": "body", "message": "not a member of this room", "type": "membership"}
