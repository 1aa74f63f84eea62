"""Transcode queue consumer: Powertools BatchProcessor with partial batch responses.

Each SQS record is an S3 notification for request objects under jobs/transcode/ (left by the
media function); each object is handed to transcode.logic. A record that raises (any CreateJob
error included) is reported in `batchItemFailures` and comes back after the visibility timeout;
after the queue's maxReceiveCount it waits in the DLQ, its request object kept for a redrive.
Its batch-mates are not retried.
"""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from core.batch import sqs_batch_handler
from transcode import logic
from transcode.logs import logger


def created_objects(record: SQSRecord) -> list[tuple[str, str]]:
    """(bucket, key) of each ObjectCreated in the message; S3's s3:TestEvent means nothing."""
    if record.json_body.get("Event") == "s3:TestEvent":
        return []
    return [
        # Keys arrive URL-encoded, spaces as '+' (moto even encodes '/'); Powertools leaves them so.
        (s3_record.s3.bucket.name, unquote_plus(s3_record.s3.get_object.key))
        for s3_record in record.decoded_nested_s3_event.records
        if s3_record.event_name.startswith("ObjectCreated:")
    ]


def record_handler(record: SQSRecord) -> list[logic.Outcome]:
    return [logic.submit(bucket, key) for bucket, key in created_objects(record)]


handler = coldstart.background_entry(sqs_batch_handler(record_handler, logger))
