"""The room-forks queue (issue 19.1): one message names a forked room whose conversation is to be
copied (functions/room_forks). Sent by the rooms function once the fork's transaction commits, and
by the worker itself when it hands the rest of a long copy to its next invocation; a lost message
is sent again when someone reads the fork's progress and it has not moved for STALE_S.

The message carries nothing but the room: the job's state (its cursor) is in `room_forks`, so a
message delivered twice, late or out of turn copies nothing twice.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from aws_lambda_powertools import Logger

from core.room_events import sqs_client

logger = Logger(child=True)

QUEUE = "room_forks"  # core.routes: the `room_forks` function's QueueSpec
QUEUE_URL_ENV = "ROOM_FORKS_QUEUE_URL"  # QueueSpec.env_var of QUEUE, given to its producers
STALE_S = 60  # a copy whose job has not moved for this long is sent to the queue again
BATCH = 1000  # messages copied per transaction


def enqueue(room_id: uuid.UUID, *, client: Any = None) -> bool:
    """Ask the worker to copy (more of) this fork. Never raises: False when it could not be sent (the
    job waits; reading its progress after STALE_S sends it again)."""
    url = os.environ.get(QUEUE_URL_ENV)
    if not url:
        logger.warning("no room-forks queue configured: the fork waits")
        return False
    try:
        (client or sqs_client()).send_message(QueueUrl=url, MessageBody=json.dumps({"room_id": str(room_id)}))
    except Exception as exc:  # noqa: BLE001 - the job is committed; it is sent again when found stale
        logger.warning("room fork not queued: %s", type(exc).__name__)
        return False
    return True
