"""core.queues: the declaration of an event processor's queue (read by CDK and by make dev)."""

from __future__ import annotations

import pytest

from core.queues import QueueSpec
from core.routes import FUNCTIONS, FunctionSpec


def test_names_in_the_cloud_and_locally() -> None:
    standard = QueueSpec("media", "media events")
    assert (standard.queue_name("social-dev"), standard.dlq_name("social-dev")) == (
        "social-dev-media",
        "social-dev-media-dlq",
    )
    assert (standard.local_queue_name(), standard.local_dlq_name()) == ("media-local", "media-dlq-local")
    fifo = QueueSpec("fanout", "room events", fifo=True, max_batching_window_s=0)
    assert (fifo.queue_name("social-dev"), fifo.dlq_name("social-dev")) == (
        "social-dev-fanout.fifo",
        "social-dev-fanout-dlq.fifo",
    )
    assert fifo.local_dlq_name("x") == "fanout-dlq-x.fifo"


def test_visibility_is_six_times_the_function_timeout_and_the_alarm_defaults_to_the_queue() -> None:
    spec = QueueSpec("ai", "AI jobs", function_timeout_s=120)
    assert spec.visibility_timeout_s == 720 and spec.alarm == "ai"
    assert QueueSpec("transcode", "t", dlq_alarm="media").alarm == "media"


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "Media"},  # not a metric-math id
        {"dlq_alarm": "media-pipeline"},
        {"fifo": True},  # a FIFO event source takes no batching window
        {"batch_size": 11},
        {"max_concurrency": 1},
        {"function_timeout_s": 901},
        {"max_receives": 0},
        {"dlq_alarm_threshold": 0},
        {"max_message_age_s": 10},
    ],
)
def test_what_aws_would_refuse_fails_at_import(fields: dict[str, object]) -> None:
    args: dict[str, object] = {"name": "q", "description": "messages"} | fields
    with pytest.raises(ValueError):
        QueueSpec(**args)  # type: ignore[arg-type]


def test_events_functions_and_only_they_have_a_queue() -> None:
    with pytest.raises(ValueError, match="events function"):
        FunctionSpec("x", "events", "no queue")
    with pytest.raises(ValueError, match="events function"):
        FunctionSpec("x", "api", "a queue", queue=QueueSpec("x", "messages"))
    assert all((spec.kind == "events") == (spec.queue is not None) for spec in FUNCTIONS)


def test_the_catalog_declares_each_queue_once_and_its_producers_exist() -> None:
    names = [spec.queue.name for spec in FUNCTIONS if spec.queue is not None]
    assert len(names) == len(set(names)) and {"media", "transcode"} <= set(names)
    producers = {p for spec in FUNCTIONS if spec.queue is not None for p in spec.queue.producers}
    assert producers <= {spec.name for spec in FUNCTIONS}
    assert QueueSpec("ai_worker", "AI jobs").env_var == "AI_WORKER_QUEUE_URL"
