"""The queue that feeds an event processor: one declaration, read by CDK and by `make dev`.

A `QueueSpec` hangs off its function's `core.routes.FunctionSpec` (`queue=`). From it CDK makes
the queue and its DLQ (SSE, TLS only, redrive after `max_receives`), the event source mapping
with ReportBatchItemFailures, the function's memory and timeout, its DLQ-depth alarm (and, if
asked, a message-age alarm) and, for a function in the VPC, its reserved concurrency; the local
stack makes the same queue pair in moto and pumps it into the function. Whether the function
runs in the VPC is its FunctionSpec's `uses_db`. Pure data: no AWS SDK, no CDK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The AWS guidance for SQS event sources: a visibility timeout of 6x the function's timeout.
VISIBILITY_FACTOR = 6
_NAME = re.compile(r"[a-z][a-z0-9_]*")  # also a CloudWatch metric-math id (the DLQ alarm uses it)


@dataclass(frozen=True)
class QueueSpec:
    name: str  # logical: `<prefix>-<name>` in the cloud, `<name>-local` under make dev
    description: str  # what its messages are, for the alarm: "transcode requests"
    fifo: bool = False  # FIFO (the producer sets MessageGroupId) or standard
    function_timeout_s: int = 60  # the consumer's timeout; the queue's visibility is 6x this
    memory_mb: int = 1024  # the consumer's memory
    batch_size: int = 10
    # Seconds the event source may wait to fill a batch; FIFO event sources take none (0).
    max_batching_window_s: int = 1
    max_concurrency: int = 2  # the event source's ceiling (2..1000); in the VPC, its connections too
    max_receives: int = 5  # deliveries before a message moves to the DLQ
    dlq_retention_days: int = 14
    # Queues naming the same alarm share one DLQ-depth alarm `<prefix>-<alarm>-dlq-not-empty`;
    # None: the queue's own name.
    dlq_alarm: str | None = None
    dlq_alarm_threshold: int = 1  # messages in the DLQ that raise the alarm
    # The alarm's runbook, a section of docs/operations.md; None: the generic `queue-dlq-not-empty`.
    runbook: str | None = None
    # Raise `<prefix>-<name>-message-age` when the oldest message waits longer than this; None: no alarm.
    max_message_age_s: int | None = None
    # Functions that send to it: sqs:SendMessage on it and its URL as `<NAME>_QUEUE_URL` (env_var).
    producers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("dlq_alarm", self.alarm)):
            if not _NAME.fullmatch(value):
                raise ValueError(f"queue {self.name!r}: {label} must match {_NAME.pattern}")
        if not 1 <= self.function_timeout_s <= 900:
            raise ValueError(f"queue {self.name!r}: function_timeout_s must be 1..900 (Lambda's limit)")
        if self.visibility_timeout_s > 43200:
            raise ValueError(f"queue {self.name!r}: the visibility timeout (6x the function's) exceeds 12 hours")
        if not 1 <= self.batch_size <= 10:
            raise ValueError(f"queue {self.name!r}: batch_size must be 1..10")
        if self.fifo and self.max_batching_window_s:
            raise ValueError(f"queue {self.name!r}: a FIFO event source takes no batching window (0)")
        if not 0 <= self.max_batching_window_s <= 300:
            raise ValueError(f"queue {self.name!r}: max_batching_window_s must be 0..300")
        if not 2 <= self.max_concurrency <= 1000:
            raise ValueError(f"queue {self.name!r}: max_concurrency must be 2..1000 (SQS event source scaling)")
        if not 1 <= self.max_receives <= 1000:
            raise ValueError(f"queue {self.name!r}: max_receives must be 1..1000")
        if not 1 <= self.dlq_retention_days <= 14:
            raise ValueError(f"queue {self.name!r}: dlq_retention_days must be 1..14")
        if self.dlq_alarm_threshold < 1 or (self.max_message_age_s is not None and self.max_message_age_s < 60):
            raise ValueError(f"queue {self.name!r}: alarm thresholds must be >= 1 message, >= 60 s")

    @property
    def visibility_timeout_s(self) -> int:
        return VISIBILITY_FACTOR * self.function_timeout_s

    @property
    def alarm(self) -> str:
        """The DLQ-depth alarm this queue's DLQ belongs to."""
        return self.dlq_alarm or self.name

    @property
    def env_var(self) -> str:
        """Where producers (and make dev's functions) find the queue's URL: MEDIA_QUEUE_URL."""
        return f"{self.name.upper()}_QUEUE_URL"

    def _named(self, base: str) -> str:
        return f"{base}.fifo" if self.fifo else base  # SQS requires the suffix on FIFO queues

    def queue_name(self, prefix: str) -> str:
        """Physical name in the cloud (`prefix` is the stage's, e.g. social-dev)."""
        return self._named(f"{prefix}-{self.name}")

    def dlq_name(self, prefix: str) -> str:
        return self._named(f"{prefix}-{self.name}-dlq")

    def local_queue_name(self, suffix: str = "local") -> str:
        return self._named(f"{self.name}-{suffix}")

    def local_dlq_name(self, suffix: str = "local") -> str:
        return self._named(f"{self.name}-dlq-{suffix}")
