"""Bodies of the rooms routes (API.md, Rooms): what every route shares (roles, limits, the deferred
`Model` base) and the room objects themselves. Each other router's bodies live in a module of this
package named after it (rooms.schemas.members, .messages, ...), which its router loads on its first
request: a cold start serves one route, and building all 37 models at import cost ~10 ms."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal, cast

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from core.message_schemas import MessageOut
from core.schemas import UserSummary
from core.types import JsonInt, Timestamp

if TYPE_CHECKING:
    from core.context_summaries import Summary
    from core.memberships import MemberView
    from core.room_access import RoomView
    from rooms.logic import ListedRoom

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
