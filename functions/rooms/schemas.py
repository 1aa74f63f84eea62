"""Bodies of the rooms routes (API.md, Rooms): room, member, invitation, message and group objects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)

from core.schemas import MessageOut, UserSummary
from core.types import JsonInt, Timestamp
from rooms.limits import GROUP_MAX_MEMBERS

if TYPE_CHECKING:
    from core.balances import Balance
    from core.context_summaries import Summary
    from core.memberships import MemberView
    from rooms.access import RoomView
    from rooms.forks import Forked, ForkView
    from rooms.group_invitations import GroupInvitations, Invitee
    from rooms.groups import GroupMemberView, GroupView
    from rooms.invitations import Created, Membership
    from rooms.logic import ListedRoom
    from rooms.messages import MessageView

Role = Literal["reader", "guest", "member", "admin", "master"]
AssignableRole = Literal["reader", "guest", "member", "admin"]  # master changes hands only by transfer
InvitableRole = Literal["reader", "guest", "member"]
Provider = Literal["echo", "bedrock", "openai"]
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$"
MESSAGE_MAX_CHARS = 4000
# Seqs fit a BIGINT; the contract stops at 2**53 - 1, the largest integer a JSON number (a
# double, which the OpenAPI maximum is written as) holds exactly: a room never gets near it.
SEQ_MAX = 2**53 - 1
UNREAD_CAP = 1000  # unread messages are counted up to this many per room ("999+")


def _iso_text(value: object) -> object:
    """JSON has no time type: only an ISO 8601 string is a time (pydantic would read 0 as 1970)."""
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 date-time string with a time zone")
    return value


# A time in a request body: an ISO 8601 string with its zone, nothing pydantic could coerce.
TimeIn = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class Model(BaseModel):
    """Every body of these routes: its validator is built when first used, not at import (a cold
    start serves one route; building all of them at import cost ~20 ms)."""

    model_config = ConfigDict(defer_build=True)


class RoomIn(Model):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)


class RoomPatch(Model):
    """Only the fields sent change; `null` for an ai_* field returns it to the deployment's default."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default=None, min_length=1, max_length=100)  # type: ignore[assignment]  # optional, not nullable
    description: str = Field(default=None, max_length=2000)  # type: ignore[assignment]  # optional, not nullable
    ai_provider: Provider | None = None
    ai_model: str | None = Field(default=None, pattern=MODEL_PATTERN)
    ai_context_cutoff_at: TimeIn | None = Field(
        default=None, description="messages before this time are never sent to the AI"
    )


class RoomOut(Model):
    id: uuid.UUID
    name: str
    description: str
    my_role: Role
    ai_provider: Provider | None = Field(description="null: the deployment's default provider")
    ai_model: str | None = Field(description="null: the provider's default model")
    ai_context_cutoff_at: Timestamp | None
    created_at: Timestamp
    archived: bool = Field(description="read-only: a fork whose conversation is still being copied (posting is 409)")
    forked_from_room_id: uuid.UUID | None = Field(description="a fork: the room it was forked from")
    forked_at_seq: int | None = Field(description="a fork: the seq of that room it copied up to")

    @classmethod
    def of(cls, room: RoomView) -> RoomOut:
        return cls(
            id=room.id,
            name=room.name,
            description=room.description,
            my_role=cast(Role, room.my_role),
            ai_provider=cast("Provider | None", room.ai_provider),
            ai_model=room.ai_model,
            ai_context_cutoff_at=room.ai_context_cutoff_at,
            created_at=room.created_at,
            archived=room.archived,
            forked_from_room_id=room.forked_from_room_id,
            forked_at_seq=room.forked_at_seq,
        )


class AiContextOut(Model):
    """What the room's AI is shown of its older history (issue 19.2): the shared context (the one
    every public AI request gets; a private one has its own, never shown here)."""

    summary_in_use: bool = Field(
        description="the oldest messages that no longer fit the context budget are given to the AI as a "
        "cached summary (made once by the room's provider, remade when a summarized message changes or the "
        "cutoff moves)"
    )
    summarized_through_seq: int | None = Field(description="the summary covers the messages up to this seq")

    @classmethod
    def of(cls, summary: Summary | None) -> AiContextOut:
        if summary is None:
            return cls(summary_in_use=False, summarized_through_seq=None)
        return cls(summary_in_use=True, summarized_through_seq=summary.through_seq)


class RoomDetailOut(RoomOut):
    """GET /rooms/{id}: the room, and what its AI is shown."""

    ai_context: AiContextOut

    @classmethod
    def with_context(cls, room: RoomView, summary: Summary | None) -> RoomDetailOut:
        return cls(**RoomOut.of(room).model_dump(), ai_context=AiContextOut.of(summary))


class ReadIn(Model):
    model_config = ConfigDict(extra="forbid")

    seq: JsonInt = Field(
        ge=0,
        le=SEQ_MAX,
        description="I have read up to this seq (at most the room's newest; lower ones change nothing)",
    )


class MemberOut(Model):
    user: UserSummary
    role: Role
    joined_at: Timestamp

    @classmethod
    def of(cls, member: MemberView) -> MemberOut:
        user = UserSummary(id=member.user_id, username=member.username, avatar_url=member.avatar_url)
        return cls(user=user, role=cast(Role, member.role), joined_at=member.joined_at)


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


class MessageIn(Model):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MESSAGE_MAX_CHARS)
    invoke_ai: StrictBool = Field(default=False, description="ask the room's AI to answer (member+)")
    private: StrictBool = Field(
        default=False, description="visible to you only (with invoke_ai: the question and its answer)"
    )
    image_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=4,
        json_schema_extra={"uniqueItems": True},
        description="up to 4 distinct images you uploaded to this room (POST /rooms/{room_id}/images), each "
        "sent once (404 for any other id, 409 once sent); with invoke_ai all must be `ready` (else 409)",
    )


class MessagePatch(Model):
    model_config = ConfigDict(extra="forbid")

    exclude_from_ai: StrictBool = Field(  # type: ignore[assignment]  # optional, not nullable
        default=None, description="leave the message out of the AI's context (author or admin+)"
    )
    content: str = Field(  # type: ignore[assignment]  # optional, not nullable
        default=None,
        min_length=1,
        max_length=MESSAGE_MAX_CHARS,
        description="new text; only the human author of the message may change it, never an AI message's",
    )


class MessagePosted(Model):
    message: MessageOut
    ai_message: MessageOut | None = Field(
        description="with invoke_ai: the AI reply, `pending` with its seq already allocated; its text streams as "
        "message.delta events, then message.completed ends it `completed` or `failed` (poll GET "
        "/rooms/{room_id}/messages/{message_id} without a socket)"
    )

    @classmethod
    def of(cls, message: MessageView, ai_message: MessageView | None) -> MessagePosted:
        return cls(message=MessageOut.of(message), ai_message=MessageOut.of(ai_message) if ai_message else None)


class MessagePage(Model):
    items: list[MessageOut]
    next_cursor: str | None

    @classmethod
    def of(cls, messages: Sequence[MessageView], next_cursor: str | None) -> MessagePage:
        return cls(items=[MessageOut.of(m) for m in messages], next_cursor=next_cursor)


class RoomListed(RoomOut):
    """A room in my list (GET /rooms): with where I stopped reading and what came since."""

    last_read_seq: int = Field(description="the seq up to which I have read (POST /rooms/{room_id}/read)")
    unread_count: int = Field(
        ge=0,
        le=UNREAD_CAP,
        description=f"messages after last_read_seq that I may see and did not send myself (AI replies to me "
        f"included), counted up to {UNREAD_CAP}",
    )
    last_message: MessageOut | None = Field(description="the room's newest message I may see; null: none yet")

    @classmethod
    def of(cls, listed: ListedRoom) -> RoomListed:  # type: ignore[override]  # a listed room, not a RoomView
        return cls(
            **dict(RoomOut.of(listed.room)),
            last_read_seq=listed.last_read_seq,
            unread_count=listed.unread_count,
            last_message=MessageOut.of(listed.last_message) if listed.last_message else None,
        )


class RoomPage(Model):
    items: list[RoomListed]
    next_cursor: str | None

    @classmethod
    def of(cls, rooms: Sequence[ListedRoom], next_cursor: str | None) -> RoomPage:
        return cls(items=[RoomListed.of(r) for r in rooms], next_cursor=next_cursor)


# Groups (issue 19.3)

USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,50}$"
Username = Annotated[str, Field(pattern=USERNAME_PATTERN)]


class GroupIn(Model):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    members: list[Username] = Field(
        default_factory=list,
        max_length=GROUP_MAX_MEMBERS,
        description=f"usernames (case-insensitive; repeats count once), at most {GROUP_MAX_MEMBERS}; "
        "an unknown one is 409. You manage the group; you are a member only if you list yourself",
    )


class GroupPatch(Model):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)


class GroupOut(Model):
    id: uuid.UUID
    name: str
    manager: UserSummary = Field(description="its creator: the one who changes it")
    member_count: int = Field(ge=0, le=GROUP_MAX_MEMBERS)
    created_at: Timestamp

    @classmethod
    def of(cls, view: GroupView) -> GroupOut:
        manager = UserSummary(id=view.manager_id, username=view.manager_username, avatar_url=view.manager_avatar_url)
        return cls(
            id=view.id, name=view.name, manager=manager, member_count=view.member_count, created_at=view.created_at
        )


class GroupPage(Model):
    items: list[GroupOut]
    next_cursor: str | None

    @classmethod
    def of(cls, groups: Sequence[GroupView], next_cursor: str | None) -> GroupPage:
        return cls(items=[GroupOut.of(g) for g in groups], next_cursor=next_cursor)


class GroupMemberIn(Model):
    model_config = ConfigDict(extra="forbid")

    username: Username


class GroupMemberOut(Model):
    user: UserSummary
    added_at: Timestamp

    @classmethod
    def of(cls, view: GroupMemberView) -> GroupMemberOut:
        user = UserSummary(id=view.user_id, username=view.username, avatar_url=view.avatar_url)
        return cls(user=user, added_at=view.added_at)


class GroupMemberPage(Model):
    items: list[GroupMemberOut]
    next_cursor: str | None

    @classmethod
    def of(cls, members: Sequence[GroupMemberView], next_cursor: str | None) -> GroupMemberPage:
        return cls(items=[GroupMemberOut.of(m) for m in members], next_cursor=next_cursor)


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


# Forks (issue 19.1)

ForkStatus = Literal["copying", "completed", "failed"]


class ForkIn(Model):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="the new room's name")
    up_to_seq: JsonInt = Field(  # type: ignore[assignment]  # optional, not nullable
        default=None,
        ge=0,
        le=SEQ_MAX,
        description="copy the conversation up to this seq (default: all of it); beyond the newest is 409",
    )


class ForkOut(Model):
    """A fork's copy: `copied` of `total` messages; the new room is archived until `completed`."""

    room_id: uuid.UUID = Field(description="the new room")
    forked_from_room_id: uuid.UUID | None = Field(description="null once that room is gone")
    forked_at_seq: int
    status: ForkStatus
    copied: int = Field(ge=0)
    total: int = Field(ge=0)
    error: str | None = Field(description="why a failed copy stopped")
    created_at: Timestamp
    completed_at: Timestamp | None

    @classmethod
    def of(cls, fork: ForkView) -> ForkOut:
        return cls(
            room_id=fork.room_id,
            forked_from_room_id=fork.forked_from_room_id,
            forked_at_seq=fork.forked_at_seq,
            status=cast(ForkStatus, fork.status),
            copied=fork.copied,
            total=fork.total,
            error=fork.error,
            created_at=fork.created_at,
            completed_at=fork.completed_at,
        )


class ForkCreated(Model):
    room: RoomOut
    fork: ForkOut

    @classmethod
    def of(cls, forked: Forked) -> ForkCreated:
        return cls(room=RoomOut.of(forked.room), fork=ForkOut.of(forked.fork))


TransactionKind = Literal["welcome", "grant", "charge"]


class BalanceOut(Model):
    """My AI token balance: what the AI of the rooms I am master of may still spend."""

    tokens: int = Field(ge=0)
    updated_at: Timestamp | None = Field(description="its last change; null: never changed (the welcome amount)")

    @classmethod
    def of(cls, balance: Balance) -> BalanceOut:
        return cls(tokens=balance.tokens, updated_at=balance.updated_at)


class BalanceTransactionOut(Model):
    """One change of my balance: a `welcome` or operator `grant`, or the `charge` of one AI reply."""

    id: uuid.UUID
    kind: TransactionKind
    delta: int = Field(description="what the balance changed by (a charge is negative)")
    balance_after: int = Field(ge=0)
    input_tokens: int | None = Field(ge=0, description="a charge: the call's input tokens (provider usage)")
    output_tokens: int | None = Field(ge=0, description="a charge: the call's output tokens (provider usage)")
    shortfall: int = Field(ge=0, description="a charge: tokens used beyond what the balance held (not charged)")
    provider: str | None
    model: str | None
    room_id: uuid.UUID | None
    message_id: uuid.UUID | None = Field(description="a charge: the AI message it paid for")
    note: str | None
    created_at: Timestamp

    @classmethod
    def of(cls, row: Any) -> BalanceTransactionOut:
        return cls(
            id=row.id,
            kind=row.kind,
            delta=row.delta,
            balance_after=row.balance_after,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            shortfall=row.shortfall,
            provider=row.provider,
            model=row.model,
            room_id=row.room_id,
            message_id=row.message_id,
            note=row.note,
            created_at=row.created_at,
        )


class BalanceTransactionPage(Model):
    items: list[BalanceTransactionOut]
    next_cursor: str | None

    @classmethod
    def of(cls, rows: Sequence[Any], next_cursor: str | None) -> BalanceTransactionPage:
        return cls(items=[BalanceTransactionOut.of(r) for r in rows], next_cursor=next_cursor)
