"""The ai_replies queue's consumer: one job per record (batch size 1: a reply may stream for a
minute or more), Powertools BatchProcessor with partial batch responses.

A record that names no job is dropped (logged), never retried. A job that raises (the database
unreachable, a bug) is reported in `batchItemFailures` and comes back after the visibility
timeout; on its last receive (the queue's max_receives) the reply is failed first, so a job on its
way to the DLQ never leaves its message `pending` (and a read past the deadline fails it anyway).
"""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ai_worker import worker
from core import ai_replies
from core.batch import sqs_batch_handler
from core.routes import function

logger = Logger(service="ai_worker")


def _max_receives() -> int:
    queue = function("ai_worker").queue
    assert queue is not None  # an events function always has one
    return queue.max_receives


def record_handler(record: SQSRecord) -> str:
    job = ai_replies.Job.parse(record.body)
    if job is None:
        logger.warning("a record that names no AI reply job was dropped", extra={"message_id": record.message_id})
        return "dropped"
    try:
        return worker.run(job)
    except Exception:
        if int(record.attributes.approximate_receive_count or 1) >= _max_receives():
            _fail(job)
        raise


def _fail(job: ai_replies.Job) -> None:
    """The job's last chance is gone: its reply ends failed (the `finish` step; best effort: a read
    past the deadline fails it too)."""
    try:
        worker.end(job, "", "failed")
    except Exception:
        logger.exception("could not fail the AI reply of a job on its way to the DLQ")


handler = coldstart.background_entry(sqs_batch_handler(record_handler, logger))
