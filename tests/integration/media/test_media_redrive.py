"""`make redrive` (local.redrive): DLQ messages go back to their source queue, counted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from local import redrive
from local.aws import LocalAws


def _bodies(sqs: Any, url: str) -> list[str]:
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        found += [m["Body"] for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found


def test_redrive_moves_every_dead_message_back(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"q{uuid.uuid4().hex[:8]}"
    dlq_url, url = aws.create_queue_pair(name)
    sqs = aws.client("sqs")
    bodies = [f"message {i}" for i in range(23)]  # more than one batch
    for body in bodies:
        sqs.send_message(
            QueueUrl=dlq_url, MessageBody=body, MessageAttributes={"a": {"DataType": "String", "StringValue": "v"}}
        )
    monkeypatch.setattr(redrive, "sqs_client", lambda: sqs)
    assert redrive.main(["--dlq", f"{name}-dlq-local"]) == 0
    assert f"moved {len(bodies)} message(s)" in capsys.readouterr().out
    assert sorted(_bodies(sqs, url)) == sorted(bodies)
    assert _bodies(sqs, dlq_url) == []
    assert redrive.main(["--dlq", dlq_url]) == 0
    assert "moved 0 message(s)" in capsys.readouterr().out


def test_a_fifo_dlq_goes_back_with_its_message_groups(aws: LocalAws, capsys: pytest.CaptureFixture[str]) -> None:
    from core.queues import QueueSpec

    spec = QueueSpec(f"f{uuid.uuid4().hex[:8]}", "room events", fifo=True, max_batching_window_s=0)
    dlq_url, url = aws.create_queue_pair(spec)
    sqs = aws.client("sqs")
    for i, group in enumerate(("a", "b", "a")):
        sqs.send_message(
            QueueUrl=dlq_url, MessageBody=f"{group} {i}", MessageGroupId=group, MessageDeduplicationId=str(i)
        )
    assert redrive.redrive(sqs, dlq_url, url, wait_s=0) == 3
    back = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])["Messages"]
    assert sorted((m["Attributes"]["MessageGroupId"], m["Body"]) for m in back) == [
        ("a", "a 0"),
        ("a", "a 2"),
        ("b", "b 1"),
    ]
    assert [m["Body"] for m in back if m["Attributes"]["MessageGroupId"] == "a"] == ["a 0", "a 2"]  # order kept


def test_the_client_follows_the_local_stack_or_aws_endpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("LOCAL_AWS_PORT", "4999")
    assert redrive.sqs_client().meta.endpoint_url == "http://127.0.0.1:4999"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.eu-west-1.amazonaws.com")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert redrive.sqs_client().meta.endpoint_url == "https://sqs.eu-west-1.amazonaws.com"
