"""Bodies of the message routes: send (and ask the AI), edit, the history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field, StrictBool

from core.message_schemas import MessageOut
from rooms.schemas import MESSAGE_MAX_CHARS, Model

if TYPE_CHECKING:
    from rooms.messages import MessageView


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
