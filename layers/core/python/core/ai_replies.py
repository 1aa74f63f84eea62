"""An AI reply's life (API.md, Rooms; issue 18.4): `pending` -> `completed` | `failed`, never stuck.

1. rooms, in the sender's transaction: the human message and the AI message with its own seq,
   `pending`, empty, with a fresh `job_id` and a deadline (`pending_until`, ROOMS_AI_PENDING_S);
   `message.created` for both. After the commit, one job on the `ai_replies` SQS queue.
   Regenerate puts the same row (same id and seq) back to `pending` with a new job the same way.
2. the ai_worker takes the job, streams the provider's answer as `message.delta` events, then
   `finish`es the message once: its text and `completed` or `failed`, with `message.completed`.

The job names a message, never trusted: `finish` (and `current`) change a row only if it is still
the pending AI message of that room with that very job, so a redelivered, superseded, forged or
misdirected job changes no message. (A superseded job that had called its provider is still
charged what it used: functions/ai_steps, `finish`.) A reply whose job never ends (a lost job, a crashed worker, the
DLQ) is failed once past its deadline by whoever reads or retries it (`settle`).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from sqlalchemy import func, select, update

from core import room_messages
from core.config import FeatureSettings, setting
from core.models.rooms import message_table, room_table
from core.room_messages import MessageView

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

logger = Logger(child=True)

QUEUE = "ai_replies"  # core.routes: the ai_worker function's QueueSpec
QUEUE_URL_ENV = "AI_REPLIES_QUEUE_URL"  # QueueSpec.env_var of QUEUE, given to its producer (rooms)


@dataclass(frozen=True, kw_only=True)
class AiRepliesSettings(FeatureSettings):
    """AI replies, for rooms (which starts them) and the ai_worker (which ends them)."""

    rooms_ai_pending_s: int = setting(
        150,
        ge=5,
        le=900,
        doc="a `pending` AI reply older than this reads (and is stored) as `failed`: none stays pending",
    )
    # OpenAI-compatible endpoint up to /v1: rooms lets a room choose `openai` only with one; the worker calls it.
    openai_base_url: str | None = setting(
        None,
        pattern=r"^https?://[^\s]+$",
        doc="OpenAI-compatible endpoint up to `/v1` (`http(s)://`); e.g. a local model server",
    )


@dataclass(frozen=True)
class Job:
    """One reply to generate: which message, in which room, under which job id."""

    room_id: uuid.UUID
    message_id: uuid.UUID
    job_id: uuid.UUID

    def body(self) -> str:
        return json.dumps(
            {"room_id": str(self.room_id), "message_id": str(self.message_id), "job_id": str(self.job_id)}
        )

    @classmethod
    def parse(cls, body: str | None) -> Job | None:
        """The job a queue message names; None for anything else (it is dropped, never retried)."""
        try:
            document = json.loads(body or "")
            return cls(
                room_id=uuid.UUID(str(document["room_id"])),
                message_id=uuid.UUID(str(document["message_id"])),
                job_id=uuid.UUID(str(document["job_id"])),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def pending_values() -> dict[str, Any]:
    """The columns of an AI message that waits for a new job: empty, pending, with a deadline."""
    deadline = datetime.now(UTC) + timedelta(seconds=AiRepliesSettings.current().rooms_ai_pending_s)
    return {"content": "", "status": "pending", "job_id": uuid.uuid4(), "pending_until": deadline}


def job_of(view: MessageView, job_id: uuid.UUID) -> Job:
    return Job(room_id=view.room_id, message_id=view.id, job_id=job_id)


def enqueue(job: Job, *, client: Any = None) -> bool:
    """Send the job after its transaction committed; False when it could not be sent (the caller
    fails the reply at once rather than leave it pending until its deadline)."""
    url = os.environ.get(QUEUE_URL_ENV)
    if not url:
        logger.warning("no AI replies queue configured (%s): the reply fails", QUEUE_URL_ENV)
        return False
    from core.room_events import sqs_client  # the container's one SQS client

    try:
        (client or sqs_client()).send_message(QueueUrl=url, MessageBody=job.body())
    except Exception as exc:  # noqa: BLE001 - the messages are committed; the reply ends failed
        logger.warning("AI reply job not sent: %s", type(exc).__name__)
        return False
    return True


def _this_job(job: Job) -> Any:
    """The one row a job may change: still the pending AI message of its room with this job id."""
    m = message_table.c
    return (
        (m.id == job.message_id)
        & (m.room_id == job.room_id)
        & (m.kind == "ai")
        & (m.status == "pending")
        & (m.job_id == job.job_id)
        & m.deleted_at.is_(None)
        & m.room_id.in_(select(room_table.c.id).where(room_table.c.deleted_at.is_(None)))
    )


def is_current(session: Connection, job: Job) -> bool:
    """Whether the job may still end its message (the worker asks before each delta)."""
    return session.execute(select(message_table.c.id).where(_this_job(job))).first() is not None


def current(session: Connection, job: Job) -> MessageView | None:
    """The job's message while the job may still end it (the worker checks before and while streaming)."""
    found = session.execute(select(message_table.c.id).where(_this_job(job))).first()
    return room_messages.load(session, job.message_id) if found is not None else None


def finish(session: Connection, job: Job, content: str, status: str) -> MessageView | None:
    """Store the reply's text and end (`completed` | `failed`) once, with `message.completed`;
    None (and nothing changed) when the job may no longer end it."""
    if status not in ("completed", "failed"):
        raise ValueError(f"a reply ends completed or failed, not {status!r}")
    done = session.execute(
        update(message_table)
        .where(_this_job(job))
        .values(content=content, status=status, pending_until=None, updated_at=func.now())
        .returning(message_table.c.id)
    ).first()
    if done is None:
        return None
    view = room_messages.load(session, job.message_id)
    room_messages.publish(session, "message.completed", view)
    return view


def fail_overdue(session: Connection, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MessageView]:
    """Fail these messages if they are pending past their deadline (by the database's clock), each
    with its `message.completed`; the ones failed here, by id."""
    if not message_ids:
        return {}
    failed = (
        session.execute(
            update(message_table)
            .where(
                message_table.c.id.in_(list(message_ids)),
                message_table.c.status == "pending",
                message_table.c.pending_until <= func.now(),
            )
            .values(status="failed", pending_until=None, updated_at=func.now())
            .returning(message_table.c.id)
        )
        .scalars()
        .all()
    )
    views = {}
    for message_id in failed:
        view = room_messages.load(session, message_id)
        room_messages.publish(session, "message.completed", view)
        views[message_id] = view
    return views


def settle(session: Connection, views: Sequence[MessageView]) -> list[MessageView]:
    """What a read answers: pending replies past their deadline are failed now (written, announced),
    so a reply whose worker never ended it reads `failed`, not `pending`. Nothing to do (no
    statement) when none is overdue, which is every read but the rare one."""
    now = datetime.now(UTC)
    overdue = [view.id for view in views if view.overdue(now)]
    if not overdue:
        return list(views)
    failed = fail_overdue(session, overdue)
    # A row another reader failed first (or the worker ended meanwhile) is shown as it is seen now.
    return [failed.get(view.id) or view.as_seen(now) for view in views]
