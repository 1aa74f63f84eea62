"""The AI worker's database steps (core.ai_steps), one short transaction each, no provider call.

`handle(event)` validates the request (anything else is rejected before any statement) and runs its
step from STEPS; the answer is the step's response as JSON. The same functions run in-process when
the worker has no AI_STEPS_FUNCTION_NAME (tests, tools), so the worker's tests exercise them
against the real database through the same JSON.

- `start`: the job must still be the pending AI message of its room under this very job id
  (anything else, a redelivery of a finished job included, is `stale`); past its deadline, or with
  its question gone, the reply ends `failed` here. Otherwise the context: the room's provider and
  model (None: the worker's defaults), its system prompt, and what the requester may show the AI
  (ai_steps.context), newest first within the token budget.
- `summary` (issue 19.2; only when `start` planned one): the summary the room's provider made for
  the worker, clipped, stored if what it covers is unchanged (ai_steps.summaries), and the context
  that starts with it.
- `delta`: whether the job still owns its message, and the connections the delta goes to now (a
  private exchange: its requester's alone); the first delta waits for the reply's announcement.
- `finish`: the text and `completed`, or `""` and `failed`, with message.completed, once; a
  completed reply charged to the room's master (core.balances, once per job) in the same
  transaction, and `balance.changed` handed back for the worker to post. `superseded` (the job
  lost its message mid-stream: regenerated, deleted) stores nothing and charges what the call used.
- `start` also refuses (`unpaid`, the reply failed, uncharged) a call the master cannot pay for.

To extend a step (balances, summaries, vision): add to its function here and, when the worker must
know, an optional field to its response in core.ai_steps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError
from sqlalchemy import ColumnElement, Connection, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ai_steps import context, summaries
from ai_steps.settings import AiStepsSettings
from core import ai_replies, balances, context_summaries, db, push, room_events
from core.ai_steps import (
    ANNOUNCE_WAIT_S,
    Context,
    DeltaRequest,
    DeltaResponse,
    FinishRequest,
    FinishResponse,
    Notice,
    StartRequest,
    StartResponse,
    StepRejected,
    SummaryRequest,
    SummaryResponse,
    parse_request,
)
from core.models.ai_jobs import ai_job_table
from core.models.rooms import message_table, room_table
from core.models.user import user_table
from core.room_images import images_column
from core.room_images import parse as parse_images
from core.room_messages import MessageView, audience, load

logger = Logger(child=True)

message = message_table.c


def start(request: StartRequest) -> StartResponse:
    job = request.job.job()
    with db.session_scope() as session:
        reply = ai_replies.current(session, job)
        if reply is None:
            logger.info("AI reply job is stale: its message is no longer pending under it")
            return StartResponse(outcome="stale")
        found = _context(session, reply) if not reply.overdue() else None
        if found is None:  # past its deadline, or its question is gone: it ends failed now
            ai_replies.finish(session, job, "", "failed")
            return StartResponse(outcome="failed")
        context_, pending = found
        sent = _input_estimate(context_)  # what a superseded call is charged for its input, too
        summarizing = summaries.cost_estimate(pending) if pending is not None else 0
        if not balances.covers(session, job.room_id, balances.call_estimate(sent + summarizing)):
            logger.info("AI reply refused: the room's master cannot pay for it")
            ai_replies.finish(session, job, "", "failed")  # never charged: nothing was called
            return StartResponse(outcome="unpaid")
        _admit(session, job)
    return StartResponse(outcome="ready", context=context_, input_tokens=sent)


def _admit(session: Connection, job: ai_replies.Job) -> None:
    """The job may call its provider: from now on what it uses is charged, whatever becomes of its message."""
    session.execute(
        pg_insert(ai_job_table)
        .values(job_id=job.job_id, room_id=job.room_id, message_id=job.message_id)
        .on_conflict_do_nothing(index_elements=["job_id"])
    )


def _chargeable(session: Connection, job: ai_replies.Job) -> bool:
    """A job `start` admitted for this very message and room, unless the reply was failed under it
    (past its deadline, read by someone first): a failed reply is never charged."""
    j = ai_job_table.c
    admitted = select(j.job_id).where(
        (j.job_id == job.job_id)
        & (j.room_id == job.room_id)
        & (j.message_id == job.message_id)
        & ~select(message.id)
        .where((message.id == j.message_id) & (message.job_id == j.job_id) & (message.status == "failed"))
        .exists()
    )
    return session.execute(admitted).first() is not None


def _input_estimate(found: Context) -> int:
    """The reply call's input as core.balances estimates it: the system prompt, every turn with its
    images (the summary's call, when one is to be made, is counted apart)."""
    newest_first = [image for m in reversed(found.messages) for image in m.attachments]  # the question's first
    reply = balances.estimate_tokens(found.system) + sum(balances.estimate_tokens(m.content) for m in found.messages)
    return reply + balances.image_tokens(newest_first)


def _context(session: Connection, reply: MessageView) -> tuple[Context, summaries.Pending | None] | None:
    """Step 1 for a job already checked by ai_replies.current (this room's pending AI message)."""
    room = session.execute(
        select(
            room_table.c.id,
            room_table.c.name,
            room_table.c.ai_provider,
            room_table.c.ai_model,
            room_table.c.ai_context_cutoff_at,
        ).where(room_table.c.id == reply.room_id, room_table.c.deleted_at.is_(None))
    ).first()
    prompt = (
        session.execute(
            select(message.id).where(
                message.id == reply.reply_to_id,
                message.room_id == reply.room_id,
                message.kind == "human",
                message.deleted_at.is_(None),
            )
        ).first()
        if reply.reply_to_id is not None
        else None
    )
    if room is None or prompt is None or reply.requester_id is None or reply.pending_until is None:
        return None
    question = load(session, reply.reply_to_id)  # type: ignore[arg-type]  # checked above
    settings = AiStepsSettings.current()
    budget = settings.rooms_ai_context_tokens
    private = reply.visibility == "private"
    system = context.system_prompt(room.name)
    cached = context_summaries.cached(session, room.id, reply.requester_id if private else None)
    after = cached.through_seq if cached is not None and cached.valid_under(room.ai_context_cutoff_at) else 0
    most = summaries.rows_needed(budget)
    history = _history(
        session,
        room.id,
        question.seq,
        cutoff=room.ai_context_cutoff_at,
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
        budget_tokens=budget,
        summary_tokens=settings.rooms_ai_summary_tokens,
        system=system,
        cached=cached,
        complete=len(history) < most,
        # The room's choice; the worker's defaults otherwise (the `summary` step names what made it).
        provider=room.ai_provider or "",
        model=room.ai_model or "",
    )
    found = Context(
        seq=reply.seq,
        only=audience(reply.visibility, reply.requester_id),
        pending_until=reply.pending_until,
        provider=room.ai_provider,
        model=room.ai_model,
        system=system,
        messages=plan.turns,
        summary=summaries.job_of(plan.pending) if plan.pending is not None else None,
    )
    return found, plan.pending


def summary(request: SummaryRequest) -> SummaryResponse:
    """Step 1b: the provider's summary (the worker asked it), clipped, checked and stored."""
    try:
        pending = summaries.pending_of(request.state)
    except ValidationError:
        raise StepRejected("not an AI step request of version 1: summary.state") from None
    if pending.draft.room_id != request.job.room_id:
        raise StepRejected("a summary of another room than the job's")
    with db.session_scope() as session:
        turns = summaries.made(session, pending, request.answer, provider=request.provider, model=request.model)
    if turns is None:
        return SummaryResponse(made=False, messages=pending.fallback)
    return SummaryResponse(made=True, messages=turns)


def _history(
    session: Connection,
    room_id: uuid.UUID,
    before_seq: int,
    *,
    cutoff: datetime | None,
    requester_id: uuid.UUID,
    private: bool,
    after_seq: int = 0,
    most: int,
) -> list[context.HistoryMessage]:
    """The newest `most` candidates between `after_seq` (a valid summary's end) and the question. The
    WHERE narrows rows by context.usable's rules so the window fills with usable ones; context.build
    and ai_steps.summaries apply the rules themselves."""
    mine: ColumnElement[bool] = message.visibility == "public"
    if private:
        mine = or_(message.visibility == "public", message.requester_id == requester_id)
    query = (
        select(
            message.id,
            message.seq,
            message.kind,
            user_table.c.username,
            message.content,
            message.status,
            message.visibility,
            message.requester_id,
            message.exclude_from_ai,
            message.deleted_at,
            message.created_at,
            images_column(),
        )
        .select_from(message_table.outerjoin(user_table, user_table.c.id == message.sender_id))
        .where(
            message.room_id == room_id,
            message.seq < before_seq,
            message.seq > after_seq,
            message.deleted_at.is_(None),
            message.exclude_from_ai.is_(False),
            or_(message.kind == "human", message.status == "completed"),
            mine,
        )
    )
    if cutoff is not None:
        query = query.where(message.created_at >= cutoff)
    rows = session.execute(query.order_by(message.seq.desc()).limit(most)).all()
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
            images=parse_images(r.images),
        )
        for r in rows
    ]


def _as_history(question: MessageView) -> context.HistoryMessage:
    return context.HistoryMessage(
        id=question.id,
        seq=question.seq,
        kind=question.kind,
        author=question.sender_username,
        content=question.content,
        status=question.status,
        visibility=question.visibility,
        requester_id=question.requester_id,
        exclude_from_ai=question.exclude_from_ai,
        deleted=False,
        created_at=question.created_at,
        images=question.images,
    )


# Subscribed, unexpired connections of the room's members now (room_events' audience), with the
# reply's own `only` (a private exchange: its requester) applied in the query.
_AUDIENCE = text(
    "SELECT s.connection_id FROM realtime_subscriptions s "
    "JOIN realtime_connections c ON c.connection_id = s.connection_id "
    "JOIN room_members m ON m.room_id = s.room_id AND m.user_id = c.user_id "
    "WHERE s.room_id = :room AND c.expires_at > now() AND (CAST(:only AS uuid) IS NULL OR c.user_id = :only) "
    "ORDER BY s.connection_id"
)
ANNOUNCE_POLL_S = 0.02


def delta(request: DeltaRequest) -> DeltaResponse:
    _forget(request.gone)
    job = request.job.job()
    with db.session_scope() as session:
        reply = ai_replies.current(session, job)
        if reply is None:
            return DeltaResponse(current=False)
        if not request.first:
            return DeltaResponse(current=True, connections=_audience(session, reply))
    # The reply's first delta: its own message.created/updated goes out first (at most ANNOUNCE_WAIT_S).
    deadline = time.monotonic() + ANNOUNCE_WAIT_S
    while not room_events.delivered(job.room_id, reply.seq) and time.monotonic() < deadline:
        time.sleep(ANNOUNCE_POLL_S)
    with db.session_scope() as session:
        return DeltaResponse(current=True, connections=_audience(session, reply))


def _audience(session: Connection, reply: MessageView) -> tuple[str, ...]:
    only = audience(reply.visibility, reply.requester_id)
    rows = session.execute(_AUDIENCE, {"room": reply.room_id, "only": only})
    return tuple(str(r.connection_id) for r in rows)


def finish(request: FinishRequest) -> FinishResponse:
    _forget(request.gone)
    job = request.job.job()
    charged = None
    with db.session_scope() as session:
        # A superseded job no longer owns its message: nothing to store. A call that reached the
        # provider is charged all the same, once per job (a failed one never is), if `start` admitted
        # it: a forged or misdirected job changes nothing.
        done = None if request.status == "superseded" else ai_replies.finish(session, job, request.text, request.status)
        usage = request.usage if request.status != "failed" else None
        if usage is not None and (done is not None or _chargeable(session, job)):
            charged = balances.charge(
                session,
                room_id=job.room_id,
                message_id=job.message_id,
                job_id=job.job_id,
                provider=request.provider or "",
                model=request.model or "",
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
            )
    notices: list[Notice] = []
    # balance.changed to the master's connections: named here, posted by the worker (core.push needs
    # @connections, which only the worker reaches)
    balances.announce(
        charged, push_frame=lambda frame, targets: notices.append(Notice(frame=frame, connections=tuple(targets)))
    )
    return FinishResponse(done=done is not None, notices=tuple(notices))


def _forget(gone: Sequence[str]) -> None:
    """Connections the worker's last push found gone (410): deleted, as core.push does in the VPC."""
    if gone:
        push.forget(list(gone))


STEPS: dict[str, Callable[[Any], Any]] = {"start": start, "summary": summary, "delta": delta, "finish": finish}


def handle(event: Any) -> dict[str, Any]:
    """One step: the request validated (core.ai_steps.StepRejected otherwise), its response as JSON."""
    request = parse_request(event)
    response = STEPS[request.step](request)
    return dict(response.model_dump(mode="json"))
