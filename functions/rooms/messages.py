"""Messages: the per-room seq, history (newest first), posting, editing and soft-deleting.

`seq` comes from `UPDATE rooms SET last_seq = last_seq + 1 ... RETURNING` in the
message's own transaction: the row lock serializes concurrent senders of one
room, and a rolled-back message gives its number back, so seqs are gap-free and
strictly increasing without sequences (which would pin RDS Proxy connections).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from core.errors import Forbidden, NotFound
from core.lazy import lazy_module
from core.models.rooms import message_table, room_table
from core.pagination import decode_cursor_of, page_of
from core.room_access import room_for
from core.room_messages import MESSAGE_COLUMNS, MessageView, load, visible_to, with_sender
from rooms import scopes

if TYPE_CHECKING:
    from core import ai_replies
    from rooms import events
else:  # a room list reads messages without settling replies or publishing events
    ai_replies = lazy_module("core.ai_replies")
    events = lazy_module("rooms.events")

SCOPE = scopes.MESSAGES
AFTER_SCOPE = scopes.MESSAGES_AFTER
SCOPES = (SCOPE, AFTER_SCOPE)  # one ?cursor= continues either, in its own order
_message = message_table.c


def allocate_seq(session: Connection, room_id: uuid.UUID) -> int:
    """The room's next seq; holds the room row's lock until the caller's transaction ends."""
    seq = session.scalar(
        update(room_table)
        .where(room_table.c.id == room_id, room_table.c.deleted_at.is_(None))
        .values(last_seq=room_table.c.last_seq + 1)
        .returning(room_table.c.last_seq)
    )
    if seq is None:
        raise NotFound("Room not found")
    return seq


def visible_message(session: Connection, room_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID) -> MessageView:
    row = session.execute(
        with_sender(*MESSAGE_COLUMNS).where(_message.id == message_id, _message.room_id == room_id, visible_to(user_id))
    ).first()
    if row is None:
        raise NotFound("Message not found")
    return MessageView.of(row)


def one(session: Connection, room_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID) -> MessageView:
    """Reader+. Others' private messages, deleted ones and another room's are 404. A pending AI reply
    past its deadline is failed now (core.ai_replies.settle)."""
    room_for(session, room_id, user_id)
    (message,) = ai_replies.settle(session, [visible_message(session, room_id, message_id, user_id)])
    return message


def _position(cursor: str | None, after_seq: int | None) -> tuple[str, int | None, int | None]:
    """(the order of the page, the seq it starts after or before, the seq it stays above) from
    ?cursor= and ?after_seq=.

    `after_seq` alone starts the oldest-first list, whose cursors continue it. A cursor always
    continues the list it came from, in its order; with a newest-first cursor, `after_seq` bounds
    that history from below (a window between the two), so every combination the document
    allows has a meaning."""
    if not cursor:
        return (SCOPE, None, None) if after_seq is None else (AFTER_SCOPE, after_seq, None)
    scope, (seq,) = decode_cursor_of(SCOPES, cursor, (int,))
    if scope == SCOPE:
        return scope, seq, after_seq
    return scope, seq if after_seq is None else max(seq, after_seq), None  # both say "after"


def history(
    session: Connection,
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    after_seq: int | None = None,
) -> tuple[list[MessageView], str | None]:
    """Reader+. Newest first by seq, or with `after_seq` oldest first from after_seq + 1 (a keyset
    on seq, so pages have no gap and no repeat while messages arrive); others' private exchanges and
    deleted messages are left out; pending AI replies past their deadline are failed now."""
    scope, position, floor = _position(cursor, after_seq)
    room_for(session, room_id, user_id)
    query = with_sender(*MESSAGE_COLUMNS).where(_message.room_id == room_id, visible_to(user_id))
    if scope == AFTER_SCOPE:
        query = query.where(_message.seq > position).order_by(_message.seq)
    else:
        if position is not None:
            query = query.where(_message.seq < position)
        if floor is not None:
            query = query.where(_message.seq > floor)
        query = query.order_by(_message.seq.desc())
    rows, next_cursor = page_of(list(session.execute(query.limit(limit + 1)).all()), limit, scope, lambda r: (r.seq,))
    return ai_replies.settle(session, [MessageView.of(r) for r in rows]), next_cursor


def store_human(
    session: Connection, room_id: uuid.UUID, user_id: uuid.UUID, content: str, *, invoke_ai: bool, private: bool
) -> MessageView:
    message_id = uuid.uuid4()
    session.execute(
        insert(message_table).values(
            id=message_id,
            room_id=room_id,
            seq=allocate_seq(session, room_id),
            sender_id=user_id,
            kind="human",
            content=content,
            visibility="private" if private else "public",
            # A private message belongs to its sender; an AI exchange to whoever asked.
            requester_id=user_id if invoke_ai or private else None,
        )
    )
    return load(session, message_id)


def _writable(
    session: Connection, room_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID, *, rewrites: bool = False
) -> None:
    """Its author (the requester, for an AI message) or an admin+ may exclude or delete it; only a human
    message's own sender may rewrite its content (`rewrites`), so nobody can put words in the AI's mouth
    or in another member's. Others' private messages are 404."""
    room = room_for(session, room_id, user_id)
    row = session.execute(
        select(_message.kind, _message.sender_id, _message.requester_id)
        .where(_message.id == message_id, _message.room_id == room_id, visible_to(user_id))
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound("Message not found")
    if rewrites:
        if row.kind != "human":
            raise Forbidden("An AI message's content changes only by regenerating it")
        if row.sender_id != user_id:
            raise Forbidden("Only the message's author may change its content")
        return
    author = row.sender_id if row.kind == "human" else row.requester_id
    if author != user_id and not room.at_least("admin"):
        raise Forbidden("Only the message's author or an admin may change it")


def edit(
    session: Connection, room_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID, changes: dict[str, Any]
) -> MessageView:
    """`content`: its human author only. `exclude_from_ai`: its author, the requester of an AI reply, or admin+."""
    _writable(session, room_id, message_id, user_id, rewrites="content" in changes)
    if not changes:
        return load(session, message_id)
    session.execute(update(message_table).where(_message.id == message_id).values(**changes, updated_at=func.now()))
    edited = load(session, message_id)
    events.message(session, "message.updated", edited)
    return edited


def remove(session: Connection, room_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """A soft delete: the row keeps its seq (no renumbering), history and the AI no longer see it."""
    _writable(session, room_id, message_id, user_id)
    gone = session.execute(
        update(message_table)
        .where(_message.id == message_id)
        .values(deleted_at=func.now(), updated_at=func.now())
        .returning(_message.seq, _message.visibility, _message.requester_id)
    ).one()
    events.message_deleted(session, room_id, message_id, gone.seq, gone.visibility, gone.requester_id)
