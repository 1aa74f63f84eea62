"""Bodies of the invitation routes: invite one user, a link or a whole group; my pending invitations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import ConfigDict, Field, model_validator

from core.schemas import UserSummary
from core.types import Timestamp
from rooms.schemas import InvitableRole, Model

if TYPE_CHECKING:
    from rooms.group_invitations import GroupInvitations, Invitee
    from rooms.invitations import Created


class InvitationIn(Model):
    # username or group_id, never both (stated in the schema too, for clients and contract tests)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"not": {"required": ["username", "group_id"]}})

    username: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_]{3,50}$",
        description="only this user may accept; omitted: a link invitation anyone with the token may accept once",
    )
    group_id: uuid.UUID | None = Field(
        default=None,
        description="instead of username: one invitation to each member of this group (yours to manage or "
        "belong to) who is not in the room nor invited yet; the answer lists who was invited and who skipped",
    )
    role: InvitableRole = "member"

    @model_validator(mode="after")
    def _one_invitee(self) -> InvitationIn:
        if {"username", "group_id"} <= self.model_fields_set:  # even as null: what the schema says
            raise ValueError("give username or group_id, not both")
        return self


class InvitationCreated(Model):
    id: uuid.UUID
    token: str = Field(description="shown only now; accept with POST /invitations/{token}/accept")
    role: InvitableRole
    expires_at: Timestamp

    @classmethod
    def of(cls, made: Created) -> InvitationCreated:
        return cls(id=made.id, token=made.token, role=cast(InvitableRole, made.role), expires_at=made.expires_at)


class RoomSummary(Model):
    id: uuid.UUID
    name: str


class InvitationOut(Model):
    """A pending invitation addressed to me; accept or decline it by its id (no token needed)."""

    id: uuid.UUID
    room: RoomSummary
    role: InvitableRole
    invited_by: UserSummary | None
    expires_at: Timestamp
    created_at: Timestamp

    @classmethod
    def of(cls, row: Any) -> InvitationOut:
        """`row`: one of rooms.invitations.pending's rows."""
        invited_by = None
        if row.inviter_id is not None:
            invited_by = UserSummary(
                id=row.inviter_id, username=row.inviter_username, avatar_url=row.inviter_avatar_url
            )
        return cls(
            id=row.id,
            room=RoomSummary(id=row.room_id, name=row.room_name),
            role=row.role,
            invited_by=invited_by,
            expires_at=row.expires_at,
            created_at=row.created_at,
        )


class InvitationPage(Model):
    items: list[InvitationOut]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: Sequence[Any], next_cursor: str | None) -> InvitationPage:
        return cls(items=[InvitationOut.of(r) for r in rows], next_cursor=next_cursor)


class GroupSummary(Model):
    id: uuid.UUID
    name: str


def _invitee(who: Invitee) -> UserSummary:
    return UserSummary(id=who.user_id, username=who.username, avatar_url=who.avatar_url)


class GroupInvited(Model):
    id: uuid.UUID = Field(description="the invitation's id: its invitee accepts or declines it by this id")
    user: UserSummary


class GroupSkipped(Model):
    user: UserSummary
    reason: Literal["already_member", "already_invited"] = Field(
        description="already_member: in the room; already_invited: holds a usable invitation to it"
    )


class GroupInvitationsCreated(Model):
    """What inviting a group made: one invitation per member not in the room nor invited yet."""

    group: GroupSummary
    role: InvitableRole
    expires_at: Timestamp
    invited: list[GroupInvited]
    skipped: list[GroupSkipped]

    @classmethod
    def of(cls, made: GroupInvitations) -> GroupInvitationsCreated:
        return cls(
            group=GroupSummary(id=made.group_id, name=made.group_name),
            role=cast(InvitableRole, made.role),
            expires_at=made.expires_at,
            invited=[GroupInvited(id=i.invitation_id, user=_invitee(i.user)) for i in made.invited],
            skipped=[GroupSkipped(user=_invitee(s.user), reason=cast(Any, s.reason)) for s in made.skipped],
        )
