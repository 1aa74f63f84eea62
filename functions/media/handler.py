"""Media queue consumer: Powertools BatchProcessor with partial batch responses.

Each SQS record is decoded (media.records) and each event in it handled (media.pipeline).
A record that raises is reported in `batchItemFailures` and comes back after the
visibility timeout (then the DLQ after 5 receives); its batch-mates are not retried.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from media import pipeline, records
from media.logs import logger

# Report every failure per record, even when the whole batch failed (no exception, no retry of the rest).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> list[pipeline.Outcome]:
    return [pipeline.handle(event) for event in records.decode(record.body)]


def _process(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


_with_lambda_context = logger.inject_lambda_context(_process)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Lambda always passes a context (its request id goes into every log line); tests may not.
    return _with_lambda_context(event, context) if context is not None else _process(event, context)
