"""The SQS event pump against moto in server mode, and the resources local.aws creates.

Each test gets its own queue pair (redrive to a DLQ after 5 receives). The pump
runs with visibility timeout 0 and no long poll, so redelivery is immediate and
the tests stay fast; one test runs the polling thread itself.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any
from urllib.parse import unquote_plus

import pytest
import requests

from local.aws import LocalAws
from local.pump import SqsPump, failed_message_ids


@pytest.fixture
def queues(aws: LocalAws) -> tuple[str, str]:
    """(queue URL, DLQ URL) fresh for the test."""
    dlq_url, url = aws.create_queue_pair(f"t{uuid.uuid4().hex[:8]}")
    return url, dlq_url


@pytest.fixture
def sqs(aws: LocalAws) -> Any:
    return aws.client("sqs")


class Recorder:
    """A test function: records each event, fails the messages whose body is listed."""

    def __init__(self, fail_bodies: tuple[str, ...] = (), raise_error: bool = False, response: Any = None):
        self.fail_bodies = fail_bodies
        self.raise_error = raise_error
        self.response = response
        self.events: list[dict[str, Any]] = []
        self.called = threading.Event()

    def __call__(self, name: str, event: dict[str, Any]) -> Any:
        self.events.append(event)
        self.called.set()
        if self.raise_error:
            raise RuntimeError("function crashed")
        if self.response is not None:
            return self.response
        failed = [r["messageId"] for r in event["Records"] if r["body"] in self.fail_bodies]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    def bodies(self) -> list[str]:
        return [r["body"] for e in self.events for r in e["Records"]]


def make_pump(recorder: Recorder, url: str, sqs: Any, wait_s: int = 0) -> SqsPump:
    return SqsPump("test", url, sqs, invoke=recorder, wait_s=wait_s, visibility_timeout_s=0)


def counts(sqs: Any, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_success_deletes_and_records_look_like_lambda(sqs: Any, queues: tuple[str, str]) -> None:
    url, _ = queues
    sqs.send_message(
        QueueUrl=url,
        MessageBody="one",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "thumb"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    sqs.send_message(QueueUrl=url, MessageBody="two")
    recorder = Recorder()
    pump = make_pump(recorder, url, sqs)
    while pump.poll_once():
        pass
    assert sorted(recorder.bodies()) == ["one", "two"]
    record = next(r for e in recorder.events for r in e["Records"] if r["body"] == "one")
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].startswith("arn:aws:sqs:us-east-1:") and record["eventSourceARN"].endswith(
        url.rsplit("/", 1)[1]
    )
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["md5OfBody"] and record["messageId"] and record["receiptHandle"]
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "thumb",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["raw"]["binaryValue"] == "AAE="
    assert counts(sqs, url) == (0, 0)


def test_partial_failure_redelivers_then_dead_letters(sqs: Any, queues: tuple[str, str]) -> None:
    url, dlq_url = queues
    for body in ("good", "bad"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    recorder = Recorder(fail_bodies=("bad",))
    pump = make_pump(recorder, url, sqs)
    for _ in range(10):
        if not pump.poll_once():
            break
    assert recorder.bodies().count("good") == 1  # deleted after its first success
    receives = [
        r["attributes"]["ApproximateReceiveCount"] for e in recorder.events for r in e["Records"] if r["body"] == "bad"
    ]
    assert receives == ["1", "2", "3", "4", "5"]  # then moto moves it to the DLQ
    assert counts(sqs, url) == (0, 0)
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["bad"]


def test_an_exception_keeps_the_whole_batch(sqs: Any, queues: tuple[str, str]) -> None:
    url, _ = queues
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    pump = make_pump(Recorder(raise_error=True), url, sqs)
    assert pump.poll_once() == 2
    again = Recorder()
    pump.invoke = again
    while pump.poll_once():
        pass
    assert sorted(again.bodies()) == ["a", "b"]
    assert {r["attributes"]["ApproximateReceiveCount"] for e in again.events for r in e["Records"]} == {"2"}


def test_an_invalid_partial_response_keeps_the_whole_batch(sqs: Any, queues: tuple[str, str]) -> None:
    url, _ = queues
    sqs.send_message(QueueUrl=url, MessageBody="x")
    pump = make_pump(Recorder(response={"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}), url, sqs)
    assert pump.poll_once() == 1
    assert counts(sqs, url)[0] + counts(sqs, url)[1] == 1


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "a"}]}, {"a"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{}]}, {"a", "b"}),
        ({"batchItemFailures": "a"}, {"a", "b"}),
    ],
)
def test_partial_batch_response_rules(response: Any, failed: set[str]) -> None:
    assert failed_message_ids(response, {"a", "b"}) == failed


def test_the_thread_polls_and_stops_on_its_event(sqs: Any, queues: tuple[str, str]) -> None:
    url, _ = queues
    recorder = Recorder()
    pump = make_pump(recorder, url, sqs, wait_s=1)
    thread = pump.start()
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert recorder.called.wait(5)
    pump.stop(timeout_s=5)
    assert not thread.is_alive()
    assert recorder.bodies() == ["hello"]


def test_an_upload_notifies_the_media_queue(aws: LocalAws, sqs: Any) -> None:
    """Bucket, CORS and ObjectCreated -> media queue, as local.aws creates them."""
    resources = aws.resources
    assert resources is not None
    s3 = aws.client("s3")
    rules = s3.get_bucket_cors(Bucket=resources.bucket)["CORSRules"]
    assert set(rules[0]["AllowedMethods"]) == {"PUT", "POST", "GET"} and rules[0]["ExposeHeaders"] == ["ETag"]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=resources.queue_urls["media"], AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    assert int(redrive["maxReceiveCount"]) == 5 and redrive["deadLetterTargetArn"].endswith(":media-dlq-local")

    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": resources.bucket, "Key": "uploads/a.png"})
    assert requests.put(put_url, data=b"\x89PNG", timeout=5).status_code == 200
    keys = []
    for _ in range(5):
        messages = sqs.receive_message(
            QueueUrl=resources.queue_urls["media"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for m in messages:
            sqs.delete_message(QueueUrl=resources.queue_urls["media"], ReceiptHandle=m["ReceiptHandle"])
            keys += [
                unquote_plus(r["s3"]["object"]["key"])
                for r in json.loads(m["Body"]).get("Records", [])
                if r["eventName"].startswith("ObjectCreated:")
            ]
        if keys:
            break
    assert keys == ["uploads/a.png"]  # keys arrive URL-encoded (moto even encodes "/")


def test_every_declared_queue_exists_locally_as_declared(aws: LocalAws, sqs: Any) -> None:
    """local.aws makes each FunctionSpec.queue (core.queues): its DLQ after max_receives."""
    from core.routes import FUNCTIONS

    resources = aws.resources
    assert resources is not None
    declared = {f.queue.name: f.queue for f in FUNCTIONS if f.queue is not None}
    assert set(declared) <= set(resources.queue_urls)
    for name, spec in declared.items():
        redrive = json.loads(
            sqs.get_queue_attributes(QueueUrl=resources.queue_urls[name], AttributeNames=["RedrivePolicy"])[
                "Attributes"
            ]["RedrivePolicy"]
        )
        assert int(redrive["maxReceiveCount"]) == spec.max_receives
        assert redrive["deadLetterTargetArn"].endswith(f":{spec.local_dlq_name()}")


def test_a_fifo_queue_keeps_each_groups_order_and_dead_letters_to_a_fifo_dlq(aws: LocalAws, sqs: Any) -> None:
    from core.queues import QueueSpec

    spec = QueueSpec(f"f{uuid.uuid4().hex[:8]}", "room events", fifo=True, max_batching_window_s=0, max_receives=2)
    dlq_url, url = aws.create_queue_pair(spec)
    assert url.endswith(f"{spec.name}-local.fifo") and dlq_url.endswith(f"{spec.name}-dlq-local.fifo")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true" and json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] in (2, "2")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"room-a {i}", MessageGroupId="a", MessageDeduplicationId=str(i))
    recorder = Recorder()
    pump = SqsPump("test", url, sqs, invoke=recorder, wait_s=0, visibility_timeout_s=0, batch_size=spec.batch_size)
    while pump.poll_once():
        pass
    assert recorder.bodies() == ["room-a 0", "room-a 1", "room-a 2"]
    assert recorder.events[0]["Records"][0]["attributes"]["MessageGroupId"] == "a"
