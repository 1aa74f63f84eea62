"""One AI reply job (core.ai_replies): validate it against the database, stream the provider's answer
to the room as `message.delta` events, store the text once with `message.completed`.

Three steps, no transaction open while the provider thinks:
1. a short read: the job must still be the pending AI message of its room with this very job id
   (anything else, a redelivery of a finished job included, is a no-op); its question, the room's
   provider and the context the requester may show the AI (rooms' privacy rules, ai_worker.context);
2. the stream, until ROOMS_AI_TIMEOUT_S or the reply's own deadline, whichever is first. Chunks are
   coalesced into at most one `message.delta` per ROOMS_AI_DELTA_INTERVAL_S (~10 a second), pushed
   straight to the room's audience (core.room_events.push_now: best effort, private exchanges to
   their requester alone). Before each push the job is checked again: a regenerate (a newer job),
   a deleted message or room stops the stream;
3. `finish`: the text and `completed`, or `""` and `failed`, only if the job may still end it;
   a `completed` reply is charged to the room's master in the same transaction (core.balances: the
   provider's usage figures, once per job), then `balance.changed` is pushed to the master.

Before the provider is called, step 1 also checks that the room's master can pay for the call's
estimate (its whole context plus an output reserve): if not, the reply ends `failed`, uncharged.

Deltas are `{message_id, index, offset, text}`: `index` counts the reply's deltas from 0, `offset`
is where `text` starts in the reply, so a client concatenates them (a stream that starts again,
a retried job, starts again at offset 0); `message.completed` carries the stored text.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from sqlalchemy import ColumnElement, Connection, literal, or_, select

from ai_worker import context, providers, summaries
from ai_worker.providers import ChatMessage, ProviderError, Usage
from ai_worker.settings import AiWorkerSettings
from core import ai_replies, balances, context_summaries, db, room_events
from core.ai_replies import Job
from core.models.rooms import message_table, room_table
from core.models.user import user_table
from core.room_access import ROOM_COLUMNS, RoomView
from core.room_messages import MessageView, audience, load

_message = message_table.c

logger = Logger(child=True)


@dataclass(frozen=True)
class Request:
    """Everything the stream and the deltas need, read in step 1 (nothing lazy-loads later)."""

    job: Job
    seq: int
    only: uuid.UUID | None  # a private exchange: its requester's connections alone
    pending_until: datetime
    provider: str
    model: str
    system: str
    messages: tuple[ChatMessage, ...]
    summary: summaries.Pending | None = None  # to make before the stream (then `messages` start with it)
    summary_usage: Usage | None = None  # the summary's call, charged with the reply


class Superseded(Exception):
    """The job may no longer end its message (regenerated, deleted): stop streaming."""


def run(job: Job) -> str:
    """Generate one reply; what became of it: completed | failed | stale (nothing to do) | superseded."""
    with db.session_scope() as session:
        reply = ai_replies.current(session, job)
        if reply is None:
            logger.info("AI reply job is stale: its message is no longer pending under it")
            return "stale"
        request = _request(session, job, reply) if not reply.overdue() else None
        if request is None:  # past its deadline, or its question is gone: it ends failed now
            ai_replies.finish(session, job, "", "failed")
            return "failed"
        if not balances.covers(session, job.room_id, balances.call_estimate(_input_estimate(request))):
            logger.info("AI reply refused: the room's master cannot pay for it")
            ai_replies.finish(session, job, "", "failed")  # never charged: nothing was called
            return "unpaid"
    if request.summary is not None:
        request = _summarized(request)
    try:
        text, status, usage = generate(request)
    except Superseded:
        return "superseded"
    charged = None
    with db.session_scope() as session:
        done = ai_replies.finish(session, job, text, status)
        if done is not None and status == "completed":
            usage = usage or providers.estimated_usage(request.messages, request.system, text)
            charged = _charge(session, request, summaries.plus(usage, request.summary_usage))
    balances.announce(charged)
    return status if done is not None else "superseded"


def _input_estimate(request: Request) -> int:
    reply = providers.estimated_usage(request.messages, request.system, "").input_tokens
    return reply + (summaries.cost_estimate(request.summary) if request.summary is not None else 0)


def _charge(session: Connection, request: Request, usage: Usage) -> balances.Change | None:
    """The completed reply's tokens, charged to the room's master (once per job)."""
    return balances.charge(
        session,
        room_id=request.job.room_id,
        message_id=request.job.message_id,
        job_id=request.job.job_id,
        provider=request.provider,
        model=request.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
    )


def _request(session: Connection, job: Job, reply: MessageView) -> Request | None:
    """Step 1 for a job already checked by ai_replies.current (this room's pending AI message)."""
    room_row = session.execute(
        select(*ROOM_COLUMNS, literal("reader").label("role")).where(
            room_table.c.id == job.room_id, room_table.c.deleted_at.is_(None)
        )
    ).first()
    prompt = (
        session.execute(
            select(_message.id).where(
                _message.id == reply.reply_to_id,
                _message.room_id == job.room_id,
                _message.kind == "human",
                _message.deleted_at.is_(None),
            )
        ).first()
        if reply.reply_to_id is not None
        else None
    )
    if room_row is None or prompt is None or reply.requester_id is None or reply.pending_until is None:
        return None
    room = RoomView.of(room_row)
    question = load(session, reply.reply_to_id)  # type: ignore[arg-type]  # checked above
    settings = AiWorkerSettings.current()
    provider = room.ai_provider or providers.default_provider(settings)
    private = reply.visibility == "private"
    system = context.system_prompt(room.name)
    model = room.ai_model or providers.default_model(provider, settings)
    cached = context_summaries.cached(session, room.id, reply.requester_id if private else None)
    after = cached.through_seq if cached is not None and cached.valid_under(room.ai_context_cutoff_at) else 0
    most = summaries.rows_needed(settings.rooms_ai_context_tokens)
    history = _history(
        session,
        room,
        question.seq,
        requester_id=reply.requester_id,
        private=private,
        after_seq=after if after < question.seq else 0,
        most=most,
    )
    plan = summaries.plan(
        history,
        _as_history(question),
        room_id=room.id,
        requester_id=reply.requester_id,
        private=private,
        cutoff=room.ai_context_cutoff_at,
        budget_tokens=settings.rooms_ai_context_tokens,
        summary_tokens=settings.rooms_ai_summary_tokens,
        system=system,
        cached=cached,
        complete=len(history) < most,
        provider=provider,
        model=model,
    )
    return Request(
        job=job,
        seq=reply.seq,
        only=audience(reply.visibility, reply.requester_id),
        pending_until=reply.pending_until,
        provider=provider,
        model=model,
        system=system,
        messages=plan.turns,
        summary=plan.pending,
    )


def _summarized(request: Request) -> Request:
    """The context with its new summary at the head (ai_worker.summaries), made within half the
    reply's time; the plain trimmed one if that fails."""
    assert request.summary is not None
    settings = AiWorkerSettings.current()
    left = min(settings.rooms_ai_timeout_s, (request.pending_until - datetime.now(UTC)).total_seconds())
    turns, usage = summaries.complete(request.summary, deadline=time.monotonic() + left / 2)
    return replace(request, messages=turns, summary=None, summary_usage=usage)


def _history(
    session: Connection,
    room: RoomView,
    before_seq: int,
    *,
    requester_id: uuid.UUID,
    private: bool,
    after_seq: int = 0,
    most: int,
) -> list[context.HistoryMessage]:
    """The newest `most` candidates between `after_seq` (a valid summary's end) and the question. The
    WHERE narrows rows by context.usable's rules so the window fills with usable ones; context.build
    and ai_worker.summaries apply the rules themselves."""
    mine: ColumnElement[bool] = _message.visibility == "public"
    if private:
        mine = or_(_message.visibility == "public", _message.requester_id == requester_id)
    query = (
        select(
            _message.id,
            _message.seq,
            _message.kind,
            user_table.c.username,
            _message.content,
            _message.status,
            _message.visibility,
            _message.requester_id,
            _message.exclude_from_ai,
            _message.deleted_at,
            _message.created_at,
        )
        .outerjoin(user_table, user_table.c.id == _message.sender_id)
        .where(
            _message.room_id == room.id,
            _message.seq < before_seq,
            _message.seq > after_seq,
            _message.deleted_at.is_(None),
            _message.exclude_from_ai.is_(False),
            or_(_message.kind == "human", _message.status == "completed"),
            mine,
        )
    )
    if room.ai_context_cutoff_at is not None:
        query = query.where(_message.created_at >= room.ai_context_cutoff_at)
    rows = session.execute(query.order_by(_message.seq.desc()).limit(most)).all()
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


# The first delta waits (at most this long) for the fan-out to push the reply's own announcement
# (message.created, or message.updated for a regenerate): a client sees the pending message first.
ANNOUNCE_WAIT_S = 2.0


class Deltas:
    """Chunks in, `message.delta` events out: at most one per `interval_s`, the first at once (once
    the reply itself has been announced, or ANNOUNCE_WAIT_S passed).

    Pushes run on one background thread, one at a time and in order, so the stream never waits on
    the network: while a push is on its way the chunks gather and go with the next one (a room with
    many connections gets fewer, larger deltas). A push's failure (Superseded: the job no longer
    owns its message) surfaces in the stream's thread at the next chunk or at `flush`."""

    def __init__(
        self,
        request: Request,
        interval_s: float,
        *,
        push: Any = None,
        still_current: Any = None,
        announced: Any = None,
    ) -> None:
        self.request = request
        self.interval_s = interval_s
        self.index = 0
        self.offset = 0
        self.buffer: list[str] = []
        self.last_push = float("-inf")
        self._push = push or room_events.push_now
        self._still_current = still_current or _still_current
        self._announced = announced or (lambda: room_events.delivered(request.job.room_id, request.seq))
        self._pusher: ThreadPoolExecutor | None = None
        self._sending: Future[None] | None = None

    def add(self, chunk: str) -> None:
        self.buffer.append(chunk)
        if self._sending is not None:
            if not self._sending.done():
                return  # on its way: these chunks go with the next delta
            self._sending.result()  # a push's Superseded is raised here, in the stream's thread
            self._sending = None
        if time.monotonic() - self.last_push >= self.interval_s:
            data = self._take()
            if data is not None:
                if self._pusher is None:
                    self._pusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deltas")
                self._sending = self._pusher.submit(self._send, data)

    def flush(self) -> None:
        """The end of the stream: every delta pushed (in order) before the reply is stored."""
        if self._sending is not None:
            sending, self._sending = self._sending, None
            sending.result()
        data = self._take()
        if data is not None:
            self._send(data)

    def close(self) -> None:
        if self._pusher is not None:
            self._pusher.shutdown(wait=True)
            self._pusher = None

    def _take(self) -> dict[str, Any] | None:
        """The next delta from what the buffer holds (numbered now, so the order is the stream's)."""
        text = "".join(self.buffer)
        if not text:
            return None
        data = {
            "message_id": str(self.request.job.message_id),
            "index": self.index,
            "offset": self.offset,
            "text": text,
        }
        self.buffer = []
        self.index += 1
        self.offset += len(text)
        return data

    def _send(self, data: dict[str, Any]) -> None:
        if not self._still_current(self.request.job):
            raise Superseded
        if data["index"] == 0:
            deadline = time.monotonic() + ANNOUNCE_WAIT_S
            while not self._announced() and time.monotonic() < deadline:
                time.sleep(0.02)
        self._push(self.request.job.room_id, "message.delta", data, seq=self.request.seq, only=self.request.only)
        self.last_push = time.monotonic()


def _still_current(job: Job) -> bool:
    with db.session_scope() as session:
        return ai_replies.is_current(session, job)


def generate(request: Request, *, deltas: Deltas | None = None) -> tuple[str, str, Usage | None]:
    """Step 2: (text, completed, the provider's usage or None) or ("", failed, None); never raises
    but Superseded."""
    settings = AiWorkerSettings.current()
    left = (request.pending_until - datetime.now(UTC)).total_seconds()
    deadline = time.monotonic() + min(settings.rooms_ai_timeout_s, left)
    deltas = deltas or Deltas(request, settings.rooms_ai_delta_interval_s)
    try:
        return _stream(request, deltas, deadline)
    finally:
        deltas.close()


def _stream(request: Request, deltas: Deltas, deadline: float) -> tuple[str, str, Usage | None]:
    parts: list[str] = []
    try:
        provider = providers.provider_named(request.provider)
        for chunk in providers.stream_within(
            provider, request.messages, system=request.system, model=request.model, deadline=deadline
        ):
            parts.append(chunk)
            deltas.add(chunk)
        deltas.flush()
    except ProviderError as exc:
        logger.warning(
            "AI reply failed", extra={"provider": request.provider, "model": request.model, "reason": str(exc)}
        )
        return "", "failed", None
    return "".join(parts), "completed", getattr(provider, "usage", None)
