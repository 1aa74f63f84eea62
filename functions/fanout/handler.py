"""The fan-out: each SQS record names a room with events waiting (core.room_events); push them.

A batch of the FIFO queue may hold several rooms (message groups), each once or more: every room
is delivered once per batch, in the order it first appears. A room that fails, and every record
after it, is reported in `batchItemFailures` (FIFO: nothing after a failure may be taken as done),
so the queue delivers them again, and after max_receives moves them to the DLQ; their events stay
in the outbox for the next nudge or the sweep either way. Then one opportunistic sweep: expired
connections, and rooms whose nudge was lost.
"""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
import uuid
from typing import Any

from aws_lambda_powertools import Logger

from core import room_events

logger = Logger(service="fanout")


@coldstart.background_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    done: set[uuid.UUID] = set()
    failed: list[str] = []
    for room_id, message_id in room_events.rooms_of(records):
        if failed:
            failed.append(message_id)
            continue
        if room_id is None:
            logger.warning("a room-events record without a room id was dropped")
            continue
        if room_id in done:
            continue
        try:
            room_events.deliver(room_id)
        except Exception:
            logger.exception("room events not delivered", extra={"room_id": str(room_id)})
            failed.append(message_id)
            continue
        done.add(room_id)
    try:
        room_events.sweep()
    except Exception:
        logger.exception("sweep failed")
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
