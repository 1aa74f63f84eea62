"""The fork worker: each SQS record names a forked room whose conversation is to be copied
(core.room_forks). It copies batch after batch (room_forks.copy), each its own transaction, telling
the forking user after each (`fork.progress`, then `fork.completed`, core.room_events.push_to_user),
until the copy is done or the invocation's time runs short; then it queues the rest for the next
invocation. A batch that fails is reported in `batchItemFailures`, so the queue delivers the record
again and the copy resumes where its last committed batch stopped; on its last delivery (the DLQ
is next) the job ends `failed` with the error.
"""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
import json
import time
import uuid
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from core import room_events, room_forks
from core.routes import function
from room_forks.copy import Progress, copy_batch, note_error

logger = Logger(service="room_forks")

MAX_RECEIVES = function("room_forks").queue.max_receives  # type: ignore[union-attr]
SAFETY_MS = 5000  # stop taking batches when less than this (or than twice the last batch) remains


def _remaining_ms(context: Any) -> float:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return float(getter()) if callable(getter) else 60_000.0


def _tell(progress: Progress) -> None:
    if progress.user_id is None:
        return
    kind = "fork.progress" if progress.status == "copying" else "fork.completed"
    data = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in asdict(progress).items() if k != "user_id"}
    data["forked_from_room_id"] = data.pop("source_room_id")
    data["forked_at_seq"] = data.pop("up_to_seq")
    try:
        room_events.push_to_user(progress.user_id, progress.room_id, kind, data)
    except Exception:  # noqa: BLE001 - best effort: GET /rooms/{id}/fork has the same state
        logger.warning("fork progress not pushed", extra={"room_id": str(progress.room_id)})


def copy_fork(room_id: uuid.UUID, context: Any) -> None:
    """Copy batches while time allows; queue the rest. Raises when a batch fails (the record retries)."""
    while True:
        started = time.monotonic()
        progress = copy_batch(room_id)
        if progress is None:
            return  # no such job, or another invocation is on it
        _tell(progress)
        if progress.done:
            return
        took_ms = (time.monotonic() - started) * 1000
        if _remaining_ms(context) < max(SAFETY_MS, 2 * took_ms):
            if not room_forks.enqueue(room_id):
                raise RuntimeError("the rest of the copy could not be queued")
            return


def _room_of(record: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(json.loads(record.get("body") or "{}").get("room_id")))
    except (ValueError, AttributeError, TypeError):
        return None


@coldstart.background_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failed: list[str] = []
    for record in event.get("Records") or []:
        room_id = _room_of(record)
        if room_id is None:
            logger.warning("a room-forks record without a room id was dropped")
            continue
        try:
            copy_fork(room_id, context)
        except Exception as exc:
            logger.exception("fork copy failed", extra={"room_id": str(room_id)})
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            final = receives >= MAX_RECEIVES
            try:
                user_id = note_error(room_id, f"copy failed: {type(exc).__name__}", final=final)
            except Exception:
                logger.exception("fork error not recorded")
                user_id = None
            if final and user_id is not None:
                progress = copy_batch_state(room_id)
                if progress is not None:
                    _tell(progress)
            if not final:
                failed.append(str(record.get("messageId")))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def copy_batch_state(room_id: uuid.UUID) -> Progress | None:
    """The job as it stands (a failed job copies nothing more)."""
    try:
        return copy_batch(room_id)
    except Exception:  # noqa: BLE001
        return None
