"""Message routes: history, one message, send (and ask the AI), edit, delete, regenerate an AI reply."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from core import db
from core.http import caller, documented, route
from core.lazy import lazy_module
from core.message_schemas import MessageOut
from core.routes import DELETE_MESSAGE, EDIT_MESSAGE, GET_MESSAGE, REGENERATE, ROOM_HISTORY, SEND_MESSAGE
from core.schemas import Limit, cursor_query
from rooms import scopes
from rooms.schemas import SEQ_MAX

if TYPE_CHECKING:
    from rooms import messages, replies
    from rooms.schemas import messages as schemas
else:
    schemas = lazy_module("rooms.schemas.messages")  # its bodies, built on the first request of these routes
    messages = lazy_module("rooms.messages")
    replies = lazy_module("rooms.replies")


router = Router()

MessageCursor = Annotated[str | None, cursor_query((scopes.MESSAGES, scopes.MESSAGES_AFTER), (int,))]
AfterSeq = Annotated[
    int | None,
    Query(
        ge=0,
        le=SEQ_MAX,
        description="oldest first from this seq + 1 (backfill after a gap or a reconnect); its next_cursor "
        "continues oldest first",
    ),
]


@route(
    router,
    ROOM_HISTORY,
    summary="History, newest first by seq; with after_seq, oldest first after it (reader+)",
    description="`cursor` continues the list it came from, in its order: the history's newest first, the "
    "after_seq list's oldest first. With after_seq, a cursor of the newest-first history continues it "
    "above after_seq only.",
    tags=["rooms"],
)
def history(
    room_id: uuid.UUID, limit: Limit = 20, cursor: MessageCursor = None, after_seq: AfterSeq = None
) -> schemas.MessagePage:
    with db.session_scope() as session:
        found, next_cursor = messages.history(session, room_id, caller(router).user_id, limit, cursor, after_seq)
    return schemas.MessagePage.of(found, next_cursor)


@route(
    router,
    GET_MESSAGE,
    summary="One message (reader+); others' private messages and deleted ones are 404",
    tags=["rooms"],
)
def get_message(room_id: uuid.UUID, message_id: uuid.UUID) -> MessageOut:
    with db.session_scope() as session:
        return MessageOut.of(messages.one(session, room_id, message_id, caller(router).user_id))


@route(
    router,
    SEND_MESSAGE,
    status_code=201,
    summary="Send a message (guest+); invoke_ai asks the room's AI (member+)",
    description="201 at once: with invoke_ai, `ai_message` is the AI reply, `pending`, its seq already "
    "allocated right after the message's. It is generated asynchronously: its text streams to WebSocket "
    "subscribers as message.delta events, then message.completed ends it `completed` or `failed` (never "
    "`pending` past its deadline). Without a socket, poll GET /rooms/{room_id}/messages/{message_id}. "
    "`image_ids`: up to 4 images you uploaded to this room (POST /rooms/{room_id}/images); unknown ids, "
    "anyone else's or another room's are 404; an image already sent, a refused one, one not uploaded, "
    "or with invoke_ai one not `ready` yet is 409 (the AI never answers without an image it was shown). "
    "429 with Retry-After past the caller's messages per minute (in this room, and in all rooms) or AI "
    "replies per minute (all rooms, regenerate included); 402 insufficient_balance when the room's master's "
    "AI token balance cannot cover the call's estimate (GET /me/balance); "
    "503 feature_disabled when AI replies are switched off.",
    tags=["rooms"],
    openapi_extensions=documented(402, 404, 409, 429),
)
def send_message(room_id: uuid.UUID, body: schemas.MessageIn) -> schemas.MessagePosted:
    message, ai_message = replies.send(
        db.session_scope,
        room_id,
        caller(router).user_id,
        body.content,
        invoke_ai=body.invoke_ai,
        private=body.private,
        image_ids=body.image_ids,
    )
    return schemas.MessagePosted.of(message, ai_message)


@route(
    router,
    EDIT_MESSAGE,
    summary="Edit your own message, or exclude a message from the AI's context (author or admin+)",
    description="`content`: only the human author of the message may change it (403 for anyone else, admins "
    "included); an AI message's content changes only by regenerating it (403). `exclude_from_ai`: the "
    "message's author (for an AI message, whoever asked for it) or an admin+. Others' private messages are 404.",
    tags=["rooms"],
)
def edit_message(room_id: uuid.UUID, message_id: uuid.UUID, body: schemas.MessagePatch) -> MessageOut:
    with db.session_scope() as session:
        changes = body.model_dump(exclude_unset=True)
        return MessageOut.of(messages.edit(session, room_id, message_id, caller(router).user_id, changes))


@route(
    router,
    DELETE_MESSAGE,
    status_code=204,
    summary="Delete a message (author or admin+; soft delete)",
    tags=["rooms"],
)
def delete_message(room_id: uuid.UUID, message_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        messages.remove(session, room_id, message_id, caller(router).user_id)


@route(
    router,
    REGENERATE,
    status_code=202,
    summary="Generate the AI reply to human message message_id again, in place (member+)",
    description="202: the AI message (same id, same seq) is back to `pending`; its new text streams as "
    "message.delta events, then message.completed ends it `completed` or `failed`. A generation still "
    "running for it is superseded (the room's master is charged what it used so far). "
    "409 when message_id is not a human message with an AI reply, or when "
    "its images are not all `ready`; "
    "429 past the caller's AI replies per minute; 402 insufficient_balance when the room's master's AI token "
    "balance cannot cover the call's estimate.",
    tags=["rooms"],
    openapi_extensions=documented(402, 409, 429),
)
def regenerate(room_id: uuid.UUID, message_id: uuid.UUID) -> MessageOut:
    return MessageOut.of(replies.regenerate(db.session_scope, room_id, message_id, caller(router).user_id))
