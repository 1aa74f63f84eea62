"""Bodies of the fork routes (issue 19.1)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal, cast

from pydantic import ConfigDict, Field

from core.types import JsonInt, Timestamp
from rooms.schemas import SEQ_MAX, Model, RoomOut

if TYPE_CHECKING:
    from rooms.forks import Forked, ForkView

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
