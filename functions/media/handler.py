"""Media queue consumer: Powertools BatchProcessor with partial batch responses.

Each SQS record is decoded (media.records) and each event in it handled (media.pipeline).
A record that raises is reported in `batchItemFailures` and comes back after the
visibility timeout (then the DLQ after 5 receives); its batch-mates are not retried.
"""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from core.batch import sqs_batch_handler
from media import pipeline, records
from media.logs import logger


def record_handler(record: SQSRecord) -> list[pipeline.Outcome]:
    return [pipeline.handle(event) for event in records.decode(record.body)]


handler = coldstart.background_entry(sqs_batch_handler(record_handler, logger))
