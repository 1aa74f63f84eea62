"""Helpers for the AI reply tests: the ai_worker pumped from the ai_replies queue (moto), as `make dev`
runs it, and waiting for a reply to end."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from core import ai_replies, room_events
from local.pump import SqsPump
from tests.client import call
from tests.integration.rooms.rooms_helpers import Person

WAIT_S = 10.0


@contextmanager
def ai_worker_pump(endpoint_url: str) -> Iterator[SqsPump]:
    """The ai_worker fed from the session's ai_replies queue, once it has worked through the jobs
    earlier modules left there (no-ops: their messages are gone, as for any stale job), so this
    module's jobs do not wait behind them."""
    url = os.environ[ai_replies.QUEUE_URL_ENV]
    room_events.sqs_client.cache_clear()
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    pump = SqsPump("ai_worker", url, sqs, wait_s=1, batch_size=1, visibility_timeout_s=60)
    pump.start()
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if not any(int(n) for n in counts.values()):
            break
        time.sleep(0.1)
    try:
        yield pump
    finally:
        pump.stop()
        room_events.sqs_client.cache_clear()


def message(room: str, who: Person, message_id: str) -> dict[str, Any]:
    answer = call("GET", f"/api/v1/rooms/{room}/messages/{message_id}", token=who.token)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def answered(room: str, who: Person, message_id: str, timeout_s: float = WAIT_S) -> dict[str, Any]:
    """The AI message once it is no longer pending (GET, as a client without a socket polls it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = message(room, who, message_id)
        if found["status"] != "pending" or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
