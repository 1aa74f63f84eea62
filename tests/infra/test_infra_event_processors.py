"""A new event processor is one declaration: its FunctionSpec's QueueSpec (core.queues).

The app is built with one more processor in the catalog, declared the way the next features
will (a FIFO fan-out with a 120 s timeout and a message-age alarm) and nothing else changed:
its queue, DLQ, redrive, event source, size, reserved concurrency and alarms all appear.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra_synth import Synth, invoked_function, synthesize

from core.queues import QueueSpec
from core.routes import FUNCTIONS, FunctionSpec

pytestmark = pytest.mark.infra

FANOUT = FunctionSpec(
    "fanout_test",
    "events",
    "A made-up processor: room events in order, per room",
    queue=QueueSpec(
        "fanout_test",
        "room events",
        fifo=True,
        max_batching_window_s=0,
        function_timeout_s=120,
        memory_mb=512,
        batch_size=10,
        max_concurrency=3,
        max_receives=3,
        dlq_alarm_threshold=2,
        max_message_age_s=300,
        producers=("rooms",),
    ),
)


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The dev app with FANOUT in the catalog; its code is the transcode function's (packaging only)."""
    from infra_cdk import app, packaging

    real_code = packaging.function_code

    def code(name: str, *args: Any, **kwargs: Any) -> Path:
        return real_code("transcode" if name == FANOUT.name else name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app, "FUNCTIONS", (*FUNCTIONS, FANOUT))
        patch.setattr(packaging, "function_code", code)
        return synthesize("dev", tmp_path_factory.mktemp("cdk-dev-fanout"))


def _resources(synth: Synth, part: str, type_: str) -> dict[str, dict[str, Any]]:
    template = synth.assembly.get_stack_by_name(synth.stack_name(part)).template
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def _named(synth: Synth, part: str, type_: str, key: str, value: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, r["Properties"]) for k, r in _resources(synth, part, type_).items() if r["Properties"].get(key) == value
    ]
    return found


def test_the_queue_and_its_dlq_are_fifo_with_the_declared_redrive(extended: Synth) -> None:
    dlq_id, dlq = _named(extended, "processing", "AWS::SQS::Queue", "QueueName", "social-dev-fanout_test-dlq.fifo")
    _, queue = _named(extended, "processing", "AWS::SQS::Queue", "QueueName", "social-dev-fanout_test.fifo")
    assert queue["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 3}
    assert queue["VisibilityTimeout"] == 6 * 120 and queue["SqsManagedSseEnabled"] is True
    assert dlq_id.startswith("FanoutTestDlq")
    policies = json.dumps(_resources(extended, "processing", "AWS::SQS::QueuePolicy"))
    assert policies.count('"aws:SecureTransport": "false"') >= 4  # media, transcode and both new ones: TLS only


def test_the_function_is_sized_fed_and_counted_from_its_declaration(extended: Synth) -> None:
    function_id, props = _named(extended, "api", "AWS::Lambda::Function", "FunctionName", "social-dev-fanout_test")
    assert (props["MemorySize"], props["Timeout"]) == (512, 120)
    assert "VpcConfig" in props  # uses_db (the default): in the VPC, with its connection share
    assert props["ReservedConcurrentExecutions"] == 3  # its event source's ceiling, out of the proxy budget
    (mapping,) = [
        m["Properties"]
        for m in _resources(extended, "api", "AWS::Lambda::EventSourceMapping").values()
        if invoked_function(extended.raw["api"]["Resources"], m["Properties"]["FunctionName"]) == function_id
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10 and mapping["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert "MaximumBatchingWindowInSeconds" not in mapping  # FIFO event sources take none
    assert "FanoutTestQueue" in json.dumps(mapping["EventSourceArn"])


def test_its_producer_may_send_to_it_and_finds_its_url(extended: Synth) -> None:
    _, rooms = _named(extended, "api", "AWS::Lambda::Function", "FunctionName", "social-dev-rooms")
    assert "FanoutTestQueue" in json.dumps(rooms["Environment"]["Variables"]["FANOUT_TEST_QUEUE_URL"])
    sends = [
        statement
        for policy in _resources(extended, "api", "AWS::IAM::Policy").values()
        if any("FunctionsRoomsRole" in role["Ref"] for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "sqs:SendMessage" in json.dumps(statement["Action"])
    ]
    assert len([s for s in sends if "FanoutTestQueue" in json.dumps(s["Resource"])]) == 1


def test_its_alarms_exist_and_reach_the_topic(extended: Synth) -> None:
    _, dlq_alarm = _named(
        extended, "processing", "AWS::CloudWatch::Alarm", "AlarmName", "social-dev-fanout_test-dlq-not-empty"
    )
    assert dlq_alarm["Threshold"] == 2 and "social-dev-fanout_test-dlq.fifo" in dlq_alarm["AlarmDescription"]
    # No section of its own in docs/operations.md: the generic runbook, which exists.
    assert dlq_alarm["AlarmDescription"].endswith("docs/operations.md#queue-dlq-not-empty")
    assert "Social-dev-Monitoring" in json.dumps(dlq_alarm["AlarmActions"])
    _, age = _named(extended, "monitoring", "AWS::CloudWatch::Alarm", "AlarmName", "social-dev-fanout_test-message-age")
    ((query,),) = [age["Metrics"]]
    metric = query["MetricStat"]["Metric"]
    assert (metric["MetricName"], query["MetricStat"]["Stat"], age["Threshold"]) == (
        "ApproximateAgeOfOldestMessage",
        "Maximum",
        300,
    )
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": "social-dev-fanout_test.fifo"}]
    names = {
        a["Properties"]["AlarmName"] for a in _resources(extended, "monitoring", "AWS::CloudWatch::Alarm").values()
    }
    # dev (perFunctionAlarms=false) watches every function, this one included, through the
    # account-wide Lambda errors and throttles alarms; staging and prod name it.
    assert {"social-dev-functions-errors", "social-dev-functions-throttles"} <= names
    assert not {"social-dev-fanout_test-errors", "social-dev-fanout_test-throttles"} & names
    # The media pipeline keeps its one alarm for both of its DLQs.
    media = _named(extended, "processing", "AWS::CloudWatch::Alarm", "AlarmName", "social-dev-media-dlq-not-empty")
    assert "social-dev-transcode-dlq" in media[1]["AlarmDescription"]


def test_the_generic_runbooks_exist() -> None:
    headings = {
        line.removeprefix("### ").strip()
        for line in (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text().splitlines()
        if line.startswith("### ")
    }
    assert {"queue-dlq-not-empty", "queue-message-age", "media-dlq-not-empty"} <= headings
