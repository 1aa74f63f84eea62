"""Bodies of the member routes: the members of a room, roles, ownership, my membership."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from core.schemas import UserSummary
from core.types import Timestamp
from rooms.schemas import AssignableRole, MemberOut, Model, Role, RoomOut

if TYPE_CHECKING:
    from core.memberships import MemberView
    from rooms.invitations import Membership


class MemberPage(Model):
    items: list[MemberOut]
    next_cursor: str | None

    @classmethod
    def of(cls, members: Sequence[MemberView], next_cursor: str | None) -> MemberPage:
        return cls(items=[MemberOut.of(m) for m in members], next_cursor=next_cursor)


class RoleIn(Model):
    model_config = ConfigDict(extra="forbid")

    role: AssignableRole = Field(description="below your own role; `master` only by PATCH /rooms/{room_id}/owner")


class OwnerIn(Model):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID = Field(description="a member of the room; the old master becomes admin")


class MembershipOut(Model):
    """What accepting an invitation makes: my membership, with the room."""

    room: RoomOut
    user: UserSummary
    role: Role
    joined_at: Timestamp

    @classmethod
    def of(cls, joined: Membership) -> MembershipOut:
        member = MemberOut.of(joined.member)
        return cls(room=RoomOut.of(joined.room), user=member.user, role=member.role, joined_at=member.joined_at)
