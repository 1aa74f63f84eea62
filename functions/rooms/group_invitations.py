"""Inviting a whole group to a room (issue 19.3): POST /rooms/{id}/invitations {group_id, role}.

Admin+ in the room, and the caller must manage the group: its members were added without being asked,
so belonging to a group is no licence to invite all of it (a security review's invitation-spam finding);
any other group is the same 409 as one that does not exist. At most
RoomsSettings.rooms_group_invitations_per_minute such requests per user. Every member of the group
who is neither in the room nor already holding a usable invitation to it gets one invitation by
name (accepted by its id from GET /invitations, like an invitation by username; its token is never
shown to anyone). The answer lists who was invited and who was skipped and why.

Constant statements whatever the group's size: the room check, the group's members with what
they already have in the room (one SELECT), and one multi-row INSERT. At most
INVITATIONS_PER_REQUEST invitations per request: more is a 409 that says how many, and nothing is
sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, exists, func, insert, select

from core import ratelimit
from core.errors import Conflict
from core.models.groups import group_member_table, group_table
from core.models.room_invitations import room_invitation_table
from core.models.rooms import room_member_table
from core.models.user import user_table
from core.room_access import room_for
from core.tokens import new_token
from rooms.limits import INVITATIONS_PER_REQUEST
from rooms.settings import RoomsSettings

_group, _group_member, _invitation = group_table.c, group_member_table.c, room_invitation_table.c


@dataclass(frozen=True)
class Invitee:
    user_id: uuid.UUID
    username: str
    avatar_url: str | None


@dataclass(frozen=True)
class Invited:
    invitation_id: uuid.UUID
    user: Invitee


@dataclass(frozen=True)
class Skipped:
    user: Invitee
    reason: str  # already_member | already_invited


@dataclass(frozen=True)
class GroupInvitations:
    group_id: uuid.UUID
    group_name: str
    role: str
    expires_at: datetime
    invited: list[Invited]
    skipped: list[Skipped]


def _unknown_group() -> Conflict:
    detail = {"field": "group_id", "in": "body", "message": "no such group of yours", "type": "unknown_group"}
    return Conflict("No group with that id that you manage", details=[detail])


def invite_group(
    session: Connection, room_id: uuid.UUID, actor_id: uuid.UUID, group_id: uuid.UUID, role: str
) -> GroupInvitations:
    room_for(session, room_id, actor_id, at_least="admin")
    group_name = session.scalar(select(_group.name).where(_group.id == group_id, _group.manager_id == actor_id))
    if group_name is None:
        raise _unknown_group()
    limit = RoomsSettings.current().rooms_group_invitations_per_minute
    ratelimit.hit(session, f"group-invitations:{actor_id}", limit)
    in_room = exists().where(
        room_member_table.c.room_id == room_id, room_member_table.c.user_id == _group_member.user_id
    )
    invited = exists().where(
        _invitation.room_id == room_id,
        _invitation.invitee_id == _group_member.user_id,
        _invitation.accepted_at.is_(None),
        _invitation.declined_at.is_(None),
        _invitation.expires_at > func.now(),
    )
    rows = session.execute(
        select(
            _group_member.user_id,
            user_table.c.username,
            user_table.c.avatar_url,
            in_room.label("in_room"),
            invited.label("invited"),
        )
        .join(user_table, user_table.c.id == _group_member.user_id)
        .where(_group_member.group_id == group_id)
        .order_by(_group_member.added_at, _group_member.user_id)
    ).all()
    skipped: list[Skipped] = []
    to_invite: list[Invitee] = []
    for row in rows:
        who = Invitee(row.user_id, row.username, row.avatar_url)
        if row.in_room:
            skipped.append(Skipped(who, "already_member"))
        elif row.invited:
            skipped.append(Skipped(who, "already_invited"))
        else:
            to_invite.append(who)
    if len(to_invite) > INVITATIONS_PER_REQUEST:
        detail = {
            "field": "group_id",
            "in": "body",
            "message": f"{len(to_invite)} members to invite, at most {INVITATIONS_PER_REQUEST} per request",
            "type": "too_many_invitations",
        }
        raise Conflict(
            f"This would send {len(to_invite)} invitations; at most {INVITATIONS_PER_REQUEST} per request",
            code="too_many_invitations",
            details=[detail],
        )
    expires_at = datetime.now(UTC) + timedelta(seconds=RoomsSettings.current().rooms_invitation_ttl_s)
    made: list[Invited] = []
    if to_invite:
        rows_in = []
        for who in to_invite:
            invitation_id = uuid.uuid4()
            rows_in.append(
                {
                    "id": invitation_id,
                    "room_id": room_id,
                    # Accepted by id by its invitee; the token exists only to fill the column.
                    "token_hash": new_token()[1],
                    "invitee_id": who.user_id,
                    "role": role,
                    "created_by": actor_id,
                    "expires_at": expires_at,
                }
            )
            made.append(Invited(invitation_id, who))
        session.execute(insert(room_invitation_table).values(rows_in))  # one multi-row INSERT
    return GroupInvitations(group_id, group_name, role, expires_at, made, skipped)
