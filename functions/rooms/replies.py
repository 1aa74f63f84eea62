"""AI exchanges: store the question, call the provider with no transaction open, store the answer.

A provider call takes seconds; holding a transaction (and the room row's seq
lock) that long would stall every other sender of the room and pin a
connection. So a reply is three steps, each short:

1. transaction one: store the human message (its seq), build the context, commit;
2. no transaction: call the provider (a hard deadline; every failure is caught);
3. transaction two: store the AI message with its own seq, `failed` if step 2 failed.

The human message stays whatever happens after step 1. Regenerating rewrites the
existing AI message in place (same id, same seq) the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

from aws_lambda_powertools import Logger
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from core import flags
from core.errors import Conflict
from core.models.rooms import Message, Room
from core.models.user import User
from rooms import ai, context, events
from rooms.access import RoomView, room_for
from rooms.messages import MessageView, allocate_seq, load, store_human, visible_message
from rooms.settings import RoomsSettings

logger = Logger(child=True)

Sessions = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class ReplyJob:
    """Everything step 2 and 3 need, captured in step 1 (nothing lazy-loads later)."""

    room_id: uuid.UUID
    prompt_id: uuid.UUID
    requester_id: uuid.UUID
    visibility: str
    provider: str
    model: str
    system: str
    messages: tuple[ai.ChatMessage, ...]
    # Set when regenerating: the AI message to rewrite.
    ai_message_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Answer:
    content: str
    status: str  # completed | failed


def send(
    sessions: Sessions,
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    content: str,
    *,
    invoke_ai: bool,
    private: bool,
) -> tuple[MessageView, MessageView | None]:
    """POST /rooms/{id}/messages: guest+ to send, member+ to invoke the AI.

    `private` makes the message visible to its sender only; with `invoke_ai`, the answer too.
    """
    if invoke_ai:
        flags.require_ai_replies(room_id)
    with sessions() as session:
        room = room_for(session, room_id, user_id, at_least="member" if invoke_ai else "guest")
        message = store_human(session, room_id, user_id, content, invoke_ai=invoke_ai, private=private)
        events.message(session, "message.created", message)
        job = _job(session, room, message, requester_id=user_id, private=private) if invoke_ai else None
    if job is None:
        return message, None
    answer = answer_for(job)
    with sessions() as session:
        return message, store_new(session, job, answer)


def regenerate(sessions: Sessions, room_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID) -> MessageView:
    """POST .../messages/{mid}/regenerate: member+; `mid` is the human message whose AI reply is rewritten."""
    flags.require_ai_replies(room_id)
    with sessions() as session:
        job = _regeneration_job(session, room_id, message_id, user_id)
    answer = answer_for(job)
    with sessions() as session:
        return store_regenerated(session, job, answer)


def _regeneration_job(session: Session, room_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID) -> ReplyJob:
    room = room_for(session, room_id, user_id, at_least="member")
    prompt = visible_message(session, room_id, message_id, user_id)
    reply = session.execute(
        select(Message.id, Message.visibility, Message.requester_id).where(
            Message.reply_to_id == prompt.id, Message.deleted_at.is_(None)
        )
    ).first()
    if prompt.kind != "human" or reply is None:
        raise Conflict("Only a human message with an AI reply can be regenerated (name the human message)")
    requester_id = reply.requester_id or user_id
    job = _job(session, room, prompt, requester_id=requester_id, private=reply.visibility == "private")
    return replace(job, ai_message_id=reply.id)


def _job(session: Session, room: RoomView, prompt: MessageView, *, requester_id: uuid.UUID, private: bool) -> ReplyJob:
    settings = RoomsSettings.current()
    provider = room.ai_provider or ai.default_provider(settings)
    system = context.system_prompt(room.name)
    history = _history(session, room, prompt.seq, requester_id=requester_id, private=private)
    turns = context.build(
        history,
        _as_history(prompt),
        requester_id=requester_id,
        private=private,
        cutoff=room.ai_context_cutoff_at,
        budget_tokens=settings.rooms_ai_context_tokens,
        system=system,
    )
    return ReplyJob(
        room_id=room.id,
        prompt_id=prompt.id,
        requester_id=requester_id,
        visibility="private" if private else "public",
        provider=provider,
        model=room.ai_model or ai.default_model(provider, settings),
        system=system,
        messages=tuple(turns),
    )


def _history(
    session: Session, room: RoomView, before_seq: int, *, requester_id: uuid.UUID, private: bool
) -> list[context.HistoryMessage]:
    """The newest candidates before the prompt. The WHERE narrows rows by context.usable's
    rules so the window fills with usable ones; context.build applies the rules itself."""
    budget = RoomsSettings.current().rooms_ai_context_tokens
    most = budget // (context.TOKENS_PER_MESSAGE + 1) + 1  # no more messages than that can fit
    mine: ColumnElement[bool] = Message.visibility == "public"
    if private:
        mine = or_(Message.visibility == "public", Message.requester_id == requester_id)
    query = (
        select(
            Message.id,
            Message.seq,
            Message.kind,
            User.username,
            Message.content,
            Message.status,
            Message.visibility,
            Message.requester_id,
            Message.exclude_from_ai,
            Message.deleted_at,
            Message.created_at,
        )
        .outerjoin(User, User.id == Message.sender_id)
        .where(
            Message.room_id == room.id,
            Message.seq < before_seq,
            Message.deleted_at.is_(None),
            Message.exclude_from_ai.is_(False),
            or_(Message.kind == "human", Message.status == "completed"),
            mine,
        )
    )
    if room.ai_context_cutoff_at is not None:
        query = query.where(Message.created_at >= room.ai_context_cutoff_at)
    rows = session.execute(query.order_by(Message.seq.desc()).limit(most)).all()
    return [
        context.HistoryMessage(
            id=r.id,
            seq=r.seq,
            kind=r.kind,
            author=r.username,
            content=r.content,
            status=r.status,
            visibility=r.visibility,
            requester_id=r.requester_id,
            exclude_from_ai=r.exclude_from_ai,
            deleted=r.deleted_at is not None,
            created_at=r.created_at,
        )
        for r in rows
    ]


def _as_history(message: MessageView) -> context.HistoryMessage:
    return context.HistoryMessage(
        id=message.id,
        seq=message.seq,
        kind=message.kind,
        author=message.sender_username,
        content=message.content,
        status=message.status,
        visibility=message.visibility,
        requester_id=message.requester_id,
        exclude_from_ai=message.exclude_from_ai,
        deleted=False,
        created_at=message.created_at,
    )


def answer_for(job: ReplyJob) -> Answer:
    """Step 2: never raises; a failure or timeout is a `failed` answer (logged without content)."""
    try:
        provider = ai.provider_named(job.provider)
        text = ai.complete_within(provider, job.messages, system=job.system, model=job.model)
    except ai.ProviderError as exc:
        logger.warning("AI reply failed", extra={"provider": job.provider, "model": job.model, "reason": str(exc)})
        return Answer("", "failed")
    return Answer(text, "completed")


def store_new(session: Session, job: ReplyJob, answer: Answer) -> MessageView:
    """Step 3: the AI message, with the room's next seq (after anything sent meanwhile)."""
    message = Message(
        id=uuid.uuid4(),
        room_id=job.room_id,
        seq=allocate_seq(session, job.room_id),
        sender_id=None,
        kind="ai",
        content=answer.content,
        status=answer.status,
        visibility=job.visibility,
        requester_id=job.requester_id,
        reply_to_id=job.prompt_id,
    )
    session.add(message)
    session.flush()
    stored = load(session, message.id)
    events.message(session, "message.created", stored)
    return stored


def store_regenerated(session: Session, job: ReplyJob, answer: Answer) -> MessageView:
    """Step 3 of a regeneration: the same row (id, seq) gets the new content and status."""
    assert job.ai_message_id is not None
    rewritten = session.execute(
        update(Message)
        .where(
            Message.id == job.ai_message_id,
            Message.deleted_at.is_(None),
            Message.room_id.in_(select(Room.id).where(Room.deleted_at.is_(None))),
        )
        .values(content=answer.content, status=answer.status, updated_at=func.now())
        .returning(Message.id)
    ).first()
    if rewritten is None:
        raise Conflict("The AI reply (or its room) was deleted while it was being regenerated")
    rewritten_view = load(session, job.ai_message_id)
    events.message(session, "message.updated", rewritten_view)
    return rewritten_view
