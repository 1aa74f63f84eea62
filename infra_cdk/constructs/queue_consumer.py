"""Event processors from their declaration (`core.routes.FunctionSpec.queue`, a `core.queues.QueueSpec`).

- `queue_pair`: a processor's queue and its DLQ (in the processing stack);
- `dlq_alarms`: one DLQ-depth alarm per `QueueSpec.alarm` (queues may share one);
- `consume_queues`: each processor's event source, with per-record failure reports (in the
  stack where the factory made the functions, which also sized them from the spec).

Adding a processor is its FunctionSpec, its function folder, tests and events: nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.queues import QueueSpec
from core.routes import FunctionSpec
from infra_cdk.nag import acknowledge

# docs/operations.md: what to do when a processor's DLQ holds messages (unless its spec names its own).
GENERIC_DLQ_RUNBOOK = "queue-dlq-not-empty"


def queue_specs(functions: Sequence[FunctionSpec]) -> list[QueueSpec]:
    """The queues of the catalog's event processors, in catalog order, each once."""
    found: dict[str, QueueSpec] = {}
    for spec in functions:
        if spec.queue is not None:
            if spec.queue.name in found and found[spec.queue.name] != spec.queue:
                raise ValueError(f"queue {spec.queue.name!r} is declared twice, differently")
            found[spec.queue.name] = spec.queue
    return list(found.values())


def construct_name(name: str) -> str:
    """media -> Media, ai_worker -> AiWorker (the queue's construct ids, hence its logical ids)."""
    return "".join(part.capitalize() for part in name.split("_"))


def queue_pair(scope: Construct, spec: QueueSpec, prefix: str) -> tuple[sqs.Queue, sqs.Queue]:
    """A processor's queue and its DLQ: SSE, TLS only, redrive after `max_receives`; (dlq, queue)."""
    secure: dict[str, Any] = {"encryption": sqs.QueueEncryption.SQS_MANAGED, "enforce_ssl": True}
    if spec.fifo:  # a FIFO queue's DLQ must be FIFO too
        secure["fifo"] = True
    construct = construct_name(spec.name)
    dlq = sqs.Queue(
        scope,
        f"{construct}Dlq",
        queue_name=spec.dlq_name(prefix),
        retention_period=Duration.days(spec.dlq_retention_days),
        **secure,
    )
    acknowledge(
        dlq,
        "AwsSolutions-SQS3",
        f"This queue is the dead-letter queue of the {spec.name} queue; a DLQ of a DLQ would only hide poison "
        "messages that the DLQ-depth alarm is there to surface (make redrive moves them back).",
    )
    queue = sqs.Queue(
        scope,
        f"{construct}Queue",
        queue_name=spec.queue_name(prefix),
        visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receives),
        **secure,
    )
    return dlq, queue


def dlq_alarms(
    scope: Construct, specs: Sequence[QueueSpec], dlqs: Mapping[str, sqs.IQueue], prefix: str
) -> list[cloudwatch.Alarm]:
    """One alarm per `QueueSpec.alarm`, as soon as one of its DLQs holds `dlq_alarm_threshold` messages."""
    groups: dict[str, list[QueueSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.alarm, []).append(spec)
    alarms = []
    for alarm, members in groups.items():
        depth = {
            spec.name: dlqs[spec.name].metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            )
            for spec in members
        }
        what = " or ".join(spec.description for spec in members)
        receives = {spec.max_receives for spec in members}
        times = f"{receives.pop()} times" if len(receives) == 1 else "up to their maxReceiveCount"
        names = " or ".join(spec.dlq_name(prefix) for spec in members)
        runbook = next((spec.runbook for spec in members if spec.runbook), GENERIC_DLQ_RUNBOOK)
        alarms.append(
            cloudwatch.Alarm(
                scope,
                f"{construct_name(alarm)}DlqNotEmpty",
                alarm_name=f"{prefix}-{alarm}-dlq-not-empty",
                alarm_description=(
                    f"{what[:1].upper()}{what[1:]} failed {times} and wait in {names}: look, fix, then "
                    f"`make redrive`. Runbook: docs/operations.md#{runbook}"
                ),
                metric=cloudwatch.MathExpression(
                    expression=f"MAX([{', '.join(depth)}])",
                    using_metrics=depth,
                    period=Duration.minutes(1),
                    label=f"deepest {alarm} pipeline DLQ",
                ),
                threshold=min(spec.dlq_alarm_threshold for spec in members),
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        )
    return alarms


def consume_queue(fn: lambda_.IFunction, queue: sqs.IQueue, spec: QueueSpec) -> None:
    """Feed `fn` `queue` with per-record failure reports (the factory sized `fn` from `spec`)."""
    window = spec.max_batching_window_s
    fn.add_event_source(
        sources.SqsEventSource(
            queue,
            batch_size=spec.batch_size,
            max_batching_window=Duration.seconds(window) if window else None,
            max_concurrency=spec.max_concurrency,
            report_batch_item_failures=True,
        )
    )


def consume_queues(
    functions: Sequence[FunctionSpec],
    made: Mapping[str, lambda_.Function],
    queues: Mapping[str, sqs.IQueue],
    *,
    targets: Mapping[str, lambda_.IFunction] | None = None,
) -> None:
    """Every event processor of the catalog fed by its queue; its producers may send to it.

    `targets`: what each event source mapping invokes, by function (its `live` alias: what a
    canary deployment moves); a function without one is invoked directly."""
    for spec in functions:
        if spec.queue is None:
            continue
        if spec.queue.name not in queues:
            raise ValueError(f"the {spec.name} function reads queue {spec.queue.name!r}: pass the processing queues")
        queue = queues[spec.queue.name]
        consume_queue((targets or {}).get(spec.name) or made[spec.name], queue, spec.queue)
        for producer in spec.queue.producers:
            if producer not in made:
                raise ValueError(f"queue {spec.queue.name!r}: its producer {producer!r} is not in the catalog")
            queue.grant_send_messages(made[producer])
            made[producer].add_environment(spec.queue.env_var, queue.queue_url)
