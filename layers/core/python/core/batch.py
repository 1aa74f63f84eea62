"""One scaffold for every SQS-fed function: Powertools BatchProcessor with partial batch responses.

A record that raises is reported in `batchItemFailures` and comes back after the queue's
visibility timeout (then its DLQ); its batch-mates are not retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def sqs_batch_handler(record_handler: Callable[[SQSRecord], Any], logger: Logger) -> Handler:
    """The Lambda entry point that runs `record_handler` on each record of an SQS batch."""
    # Report every failure per record, even when the whole batch failed (no exception, no retry of the rest).
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def process(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return dict(response)

    with_lambda_context = logger.inject_lambda_context(process)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Lambda always passes a context (its request id goes into every log line); tests may not.
        return with_lambda_context(event, context) if context is not None else process(event, context)

    return handler
