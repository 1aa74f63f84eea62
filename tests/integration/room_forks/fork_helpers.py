"""Forking as a client does it (POST /rooms/{id}/forks, GET /rooms/{id}/fork) and the room_forks worker
invoked with the SQS event the pump would send."""

from __future__ import annotations

import json
import uuid
from typing import Any

from room_forks import handler as worker

from local.lambda_context import LocalLambdaContext
from tests.client import Answer, call
from tests.integration.realtime.realtime_helpers import sql
from tests.integration.rooms.rooms_helpers import Person


def fork(room: str, who: Person, name: str = "fork", **extra: Any) -> Answer:
    return call("POST", f"/api/v1/rooms/{room}/forks", {"name": name, **extra}, token=who.token)


def forked(room: str, who: Person, **extra: Any) -> dict[str, Any]:
    answer = fork(room, who, **extra)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def progress(room: str, who: Person) -> Answer:
    return call("GET", f"/api/v1/rooms/{room}/fork", token=who.token)


def run_worker(room: str, receives: int = 1) -> dict[str, Any]:
    """The worker, invoked with the SQS event the pump would send for this fork."""
    record = {
        "messageId": str(uuid.uuid4()),
        "body": json.dumps({"room_id": room}),
        "attributes": {"ApproximateReceiveCount": str(receives)},
        "eventSource": "aws:sqs",
    }
    return dict(worker.handler({"Records": [record]}, LocalLambdaContext("room_forks", timeout_s=120)))


def copies(room: str) -> list[Any]:
    return sql(
        "SELECT seq, content, sender_id, kind, status, visibility, requester_id, exclude_from_ai, reply_to_id, id "
        "FROM messages WHERE room_id = :r ORDER BY seq",
        r=room,
    )
