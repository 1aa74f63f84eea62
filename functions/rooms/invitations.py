"""Invitations: by username (only that user may accept) or by link (anyone holding the token, once).

Tokens are 32 random bytes, stored as SHA-256 and shown only to the admin who
creates them. Accepting or declining is one conditional UPDATE on a pending,
unexpired invitation of a live room, so a token is spent exactly once and an
expired, used or foreign invitation is the same 404. An invitee may also name
the invitation by its id (GET /invitations lists ids, never tokens).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from core.errors import Conflict, NotFound
from core.memberships import MemberView
from core.models.room_invitations import room_invitation_table
from core.models.rooms import room_member_table, room_table
from core.models.user import user_table
from core.pagination import keyset, page_of
from core.room_access import RoomView, room_for
from core.tokens import digest, new_token
from rooms import events, scopes
from rooms.members import member
from rooms.settings import RoomsSettings

SCOPE = scopes.INVITATIONS
_invitation, _member, _room = room_invitation_table.c, room_member_table.c, room_table.c


@dataclass(frozen=True)
class Created:
    id: uuid.UUID
    token: str
    role: str
    expires_at: datetime


@dataclass(frozen=True)
class Membership:
    room: RoomView
    member: MemberView


def create(session: Connection, room_id: uuid.UUID, actor_id: uuid.UUID, username: str | None, role: str) -> Created:
    """Admin+. The role is at most member (the schema refuses more), so always below the inviter's."""
    room_for(session, room_id, actor_id, at_least="admin")
    invitee_id = None
    if username is not None:
        invitee_id = session.scalar(
            select(user_table.c.id).where(func.lower(user_table.c.username) == username.lower())
        )
        if invitee_id is None:  # a conflict, not a 404: the URL names the room, which exists
            detail = {"field": "username", "in": "body", "message": "no such user", "type": "unknown_user"}
            raise Conflict("No user with that username", details=[detail])
        already = session.scalar(select(_member.role).where(_member.room_id == room_id, _member.user_id == invitee_id))
        if already is not None:
            raise Conflict("That user is already a member of this room")
    token, token_hash = new_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=RoomsSettings.current().rooms_invitation_ttl_s)
    invitation_id = uuid.uuid4()
    session.execute(
        insert(room_invitation_table).values(
            id=invitation_id,
            room_id=room_id,
            token_hash=token_hash,
            invitee_id=invitee_id,
            role=role,
            created_by=actor_id,
            expires_at=expires_at,
        )
    )
    return Created(invitation_id, token, role, expires_at)


def pending(session: Connection, user_id: uuid.UUID, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """Invitations addressed to me that I can still accept, newest first."""
    inviter = user_table.alias("inviter")
    query = (
        select(
            _invitation.id,
            _invitation.role,
            _invitation.expires_at,
            _invitation.created_at,
            _room.id.label("room_id"),
            _room.name.label("room_name"),
            inviter.c.id.label("inviter_id"),
            inviter.c.username.label("inviter_username"),
            inviter.c.avatar_url.label("inviter_avatar_url"),
        )
        .join(room_table, _room.id == _invitation.room_id)
        .outerjoin(inviter, inviter.c.id == _invitation.created_by)
        .where(_invitation.invitee_id == user_id, _usable())
    )
    query = keyset(query, (_invitation.created_at, _invitation.id), SCOPE, cursor, limit)
    return page_of(list(session.execute(query).all()), limit, SCOPE, lambda r: (r.created_at, r.id))


def _usable() -> ColumnElement[bool]:
    return and_(
        _invitation.accepted_at.is_(None),
        _invitation.declined_at.is_(None),
        _invitation.expires_at > func.now(),
        _invitation.room_id.in_(select(_room.id).where(_room.deleted_at.is_(None))),
    )


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _addressed_to(key: str, user_id: uuid.UUID) -> ColumnElement[bool]:
    """The invitation `key` names for this user: its id (invitee only) or its token (invitee or link)."""
    invitation_id = _as_uuid(key)
    if invitation_id is not None:
        return and_(_invitation.id == invitation_id, _invitation.invitee_id == user_id)
    return and_(
        _invitation.token_hash == digest(key),
        or_(_invitation.invitee_id.is_(None), _invitation.invitee_id == user_id),
    )


def accept(session: Connection, key: str, user_id: uuid.UUID) -> Membership:
    spent = session.execute(
        update(room_invitation_table)
        .where(_addressed_to(key, user_id), _usable())
        .values(accepted_at=func.now(), accepted_by=user_id)
        .returning(_invitation.room_id, _invitation.role)
    ).first()
    if spent is None:
        raise NotFound("Invitation not found")
    joined = session.execute(
        insert(room_member_table)
        .values(
            room_id=spent.room_id,
            user_id=user_id,
            role=spent.role,
            # A newcomer starts with the history read: it is there to scroll back through, not unread.
            last_read_seq=select(_room.last_seq).where(_room.id == spent.room_id).scalar_subquery(),
        )
        .on_conflict_do_nothing()
        .returning(_member.user_id)
    ).first()
    if joined is None:  # the error rolls the UPDATE back: the invitation stays usable
        raise Conflict("You are already a member of this room")
    joined_member = member(session, spent.room_id, user_id)
    events.member(session, "member.joined", spent.room_id, joined_member)
    return Membership(room_for(session, spent.room_id, user_id), joined_member)


def decline(session: Connection, key: str, user_id: uuid.UUID) -> None:
    declined = session.execute(
        update(room_invitation_table)
        .where(_addressed_to(key, user_id), _usable())
        .values(declined_at=func.now())
        .returning(_invitation.id)
    ).first()
    if declined is None:
        raise NotFound("Invitation not found")
