"""AI exchanges, the rooms side: store the question and a `pending` reply, hand the reply to the
ai_worker, answer at once (API.md, Rooms; the reply's life is core.ai_replies).

Sending with `invoke_ai` is one short transaction: the human message and the AI message, each with
its seq (the AI message's allocated now, so it sits right after its question whatever is sent
meanwhile), `pending` and empty, and `message.created` for both. After the commit, one job on the
`ai_replies` queue; the ai_worker streams the answer and ends the message `completed` or `failed`.
If the job cannot be queued the reply is failed at once, never left pending. Regenerating puts
the same AI message (same id, same seq) back to `pending` under a new job the same way; a job
still running for it is superseded (it can no longer end the message).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace

from sqlalchemy import Connection, func, insert, select, update

from core import ai_replies, balances, flags, ratelimit
from core.errors import Conflict
from core.models.rooms import message_table
from core.room_access import room_for, writable
from rooms import events, images
from rooms.messages import MessageView, allocate_seq, load, store_human, visible_message
from rooms.settings import RoomsSettings

Sessions = Callable[[], AbstractContextManager[Connection]]


def send(
    sessions: Sessions,
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    content: str,
    *,
    invoke_ai: bool,
    private: bool,
    image_ids: list[uuid.UUID] | None = None,
) -> tuple[MessageView, MessageView | None]:
    """POST /rooms/{id}/messages: guest+ to send, member+ to invoke the AI.

    `private` makes the message visible to its sender only; with `invoke_ai`, the answer too.
    """
    with sessions() as session:
        writable(room_for(session, room_id, user_id, at_least="member" if invoke_ai else "guest"))
        _may_send(session, room_id, user_id)
        if invoke_ai:
            _may_invoke_ai(session, room_id, user_id)
            balances.require_cover(session, room_id, balances.call_estimate(balances.estimate_tokens(content)))
        message = store_human(session, room_id, user_id, content, invoke_ai=invoke_ai, private=private)
        if image_ids:  # before the event, so that it carries them
            attached = images.attach(session, room_id, user_id, message.id, image_ids, for_ai=invoke_ai)
            message = replace(message, images=attached)
            if invoke_ai:  # the images count too (402 rolls the message back with everything else)
                asked = balances.estimate_tokens(content) + balances.image_tokens(attached)
                balances.require_cover(session, room_id, balances.call_estimate(asked))
        events.message(session, "message.created", message)
        pending = _pending_reply(session, message, requester_id=user_id, private=private) if invoke_ai else None
    if pending is None:
        return message, None
    return message, _dispatch(sessions, *pending)


def _may_send(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """After the membership check: the caller's messages per minute in this room, then in all rooms
    together, so one member cannot flood a room (or every room) with messages (429, Retry-After)."""
    settings = RoomsSettings.current()
    ratelimit.hit_all(
        session,
        [
            (f"messages:{user_id}:{room_id}", settings.rooms_messages_per_minute_per_room),
            (f"messages:{user_id}", settings.rooms_messages_per_minute),
        ],
    )


def _may_invoke_ai(session: Connection, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """After the membership check (a stranger gets 404, not the flag's 503): the feature flag, then
    the caller's AI budget per minute. Every reply is a provider call and a worker slot shared by all
    rooms, so one member cannot flood the queue (the refused attempt still counts)."""
    flags.require_ai_replies(room_id)
    ratelimit.hit(session, f"ai-replies:{user_id}", RoomsSettings.current().rooms_ai_replies_per_minute)


def _pending_reply(
    session: Connection, prompt: MessageView, *, requester_id: uuid.UUID, private: bool
) -> tuple[MessageView, ai_replies.Job]:
    values = ai_replies.pending_values()
    reply_id = uuid.uuid4()
    session.execute(
        insert(message_table).values(
            id=reply_id,
            room_id=prompt.room_id,
            seq=allocate_seq(session, prompt.room_id),
            sender_id=None,
            kind="ai",
            visibility="private" if private else "public",
            requester_id=requester_id,
            reply_to_id=prompt.id,
            **values,
        )
    )
    view = load(session, reply_id)
    events.message(session, "message.created", view)
    return view, ai_replies.job_of(view, values["job_id"])


def _dispatch(sessions: Sessions, reply: MessageView, job: ai_replies.Job) -> MessageView:
    """After the commit: queue the job; a job that cannot be queued fails the reply now."""
    if ai_replies.enqueue(job):
        return reply
    with sessions() as session:
        return ai_replies.finish(session, job, "", "failed") or reply


def regenerate(sessions: Sessions, room_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID) -> MessageView:
    """POST .../messages/{mid}/regenerate: member+; `mid` is the human message whose AI reply is
    generated again, in place: back to `pending` now (`message.updated`), ended by the ai_worker."""
    with sessions() as session:
        writable(room_for(session, room_id, user_id, at_least="member"))
        _may_invoke_ai(session, room_id, user_id)
        prompt = visible_message(session, room_id, message_id, user_id)
        reply_id = session.execute(
            select(message_table.c.id)
            .where(
                message_table.c.reply_to_id == prompt.id,
                message_table.c.kind == "ai",
                message_table.c.deleted_at.is_(None),
            )
            .with_for_update()
        ).scalar()
        if prompt.kind != "human" or reply_id is None:
            raise Conflict("Only a human message with an AI reply can be regenerated (name the human message)")
        images.require_ready(prompt.images)
        asked = balances.estimate_tokens(prompt.content) + balances.image_tokens(prompt.images)
        balances.require_cover(session, room_id, balances.call_estimate(asked))
        values = ai_replies.pending_values()
        session.execute(
            update(message_table).where(message_table.c.id == reply_id).values(**values, updated_at=func.now())
        )
        reply = load(session, reply_id)
        events.message(session, "message.updated", reply)
        job = ai_replies.job_of(reply, values["job_id"])
    return _dispatch(sessions, reply, job)
