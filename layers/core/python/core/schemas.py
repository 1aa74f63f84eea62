"""Response pieces several functions share (API.md objects)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from core.pagination import DEFAULT_LIMIT, MAX_LIMIT, cursors_pattern
from core.types import Timestamp

if TYPE_CHECKING:
    from core.room_messages import MessageView

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
DEFAULT_PAGE = DEFAULT_LIMIT
BY_TIME = (datetime, uuid.UUID)  # the key of most lists: (created_at or joined_at, id)


def cursor_query(scope: str | tuple[str, ...], key_types: tuple[type, ...] = BY_TIME) -> Any:
    """`Annotated[str | None, cursor_query(SCOPE)]`: the `?cursor=` of one list, whose pattern
    matches exactly the cursors that list issues (of each list, when a path serves several orders)."""
    scopes = (scope,) if isinstance(scope, str) else scope
    return Query(pattern=cursors_pattern(scopes, key_types), description="opaque, from the previous page's next_cursor")


class JsonBody(BaseModel):
    """A response body that core.http writes to JSON in one pass (pydantic-core), instead of to
    dicts and then again through json.dumps. The text is the same, byte for byte: non-ASCII is
    escaped as json.dumps escapes it. Only for models without float fields (json.dumps and
    pydantic write some floats differently); tests/unit/test_http.py checks every subclass."""


class UserSummary(BaseModel):
    """How a user appears inside other objects: author, sender, liker."""

    id: uuid.UUID
    username: str
    avatar_url: str | None


class MessageOut(BaseModel):
    """A room message (API.md, Rooms): what the rooms routes answer and the room events carry."""

    id: uuid.UUID
    room_id: uuid.UUID
    seq: int
    sender: UserSummary | None = Field(description="null for AI messages")
    kind: Literal["human", "ai"]
    content: str
    status: Literal["pending", "completed", "failed"] = Field(
        description="`pending`: an AI reply still being generated (its text arrives as message.delta events, "
        "then message.completed); it ends `completed` or `failed`, never stays pending past its deadline"
    )
    visibility: Literal["public", "private"]
    exclude_from_ai: bool
    reply_to: uuid.UUID | None = Field(description="for an AI message: the human message it answers")
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, message: MessageView) -> MessageOut:
        sender = None
        if message.sender_id is not None and message.sender_username is not None:
            sender = UserSummary(
                id=message.sender_id, username=message.sender_username, avatar_url=message.sender_avatar_url
            )
        return cls(
            id=message.id,
            room_id=message.room_id,
            seq=message.seq,
            sender=sender,
            kind=message.kind,  # type: ignore[arg-type]
            content=message.content,
            status=message.status,  # type: ignore[arg-type]
            visibility=message.visibility,  # type: ignore[arg-type]
            exclude_from_ai=message.exclude_from_ai,
            reply_to=message.reply_to_id,
            created_at=message.created_at,
            updated_at=message.updated_at,
        )
