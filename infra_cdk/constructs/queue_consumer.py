"""A function fed by an SQS queue: its own size, and the event source every queue consumer uses."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs


def consume_queue(
    fn: lambda_.Function,
    queue: sqs.IQueue,
    *,
    memory_mb: int,
    timeout: Duration,
    batch_size: int,
    max_concurrency: int,
) -> None:
    """Size `fn` (the factory sizes per kind) and feed it `queue` with per-record failure reports."""
    cfn = fn.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    cfn.memory_size = memory_mb
    cfn.timeout = int(timeout.to_seconds())
    fn.add_event_source(
        sources.SqsEventSource(
            queue,
            batch_size=batch_size,
            max_batching_window=Duration.seconds(1),
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
        )
    )
