"""Faults (issue 9): the database stops mid-run, S3 is unreachable, a poison message, a function
killed mid-transaction. Each answers clearly, leaves nothing half-written and recovers alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import text

from core import db as core_db
from tests.client import call
from tests.conftest import ROOT, reset_app_state
from tests.integration.social import member


def _count(table: str) -> int:
    with core_db.get_engine().connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - fixed names


def test_database_stopped_mid_run_answers_503_and_recovers_without_restart(db: str, postgres_server: Any) -> None:
    ada = member("ada")
    assert call("POST", "/api/v1/posts", {"content": "before"}, token=ada.token).status == 201
    postgres_server.stop()
    try:
        for method, path, body in [
            ("POST", "/api/v1/posts", {"content": "during"}),
            ("GET", "/api/v1/posts", None),
            ("POST", "/api/v1/auth/login", {"email": "ada@example.com", "password": "p" * 10}),
        ]:
            answer = call(method, path, body, token=ada.token)
            # on auth routes the authorizer cannot check revocation: AUTHORIZER_FAILURE, answered as 503 too
            assert answer.status == 503, (path, answer.status)
            assert answer.error_code == "unavailable" and int(answer.headers["Retry-After"][0]) >= 1
    finally:
        postgres_server.start()
    assert call("POST", "/api/v1/posts", {"content": "after"}, token=ada.token).status == 201
    contents = [p["content"] for p in call("GET", "/api/v1/posts").body["items"]]
    assert contents == ["after", "before"]  # nothing from the outage was half-written


def test_s3_unreachable_is_a_clear_503(db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from local.postgres import free_port

    ada = member("ada")
    key = call("POST", "/api/v1/posts/upload-url", {"content_type": "image/png", "size": 10}, token=ada.token)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    reset_app_state()
    from core import storage

    storage.s3_client.cache_clear()
    try:
        answer = call("POST", "/api/v1/posts", {"content": "x", "image_key": key.body["image_key"]}, token=ada.token)
    finally:
        monkeypatch.undo()
        storage.s3_client.cache_clear()
        reset_app_state()
    assert answer.status == 503 and answer.error_code == "unavailable"
    assert answer.body["error"]["message"] == "Storage is unavailable" and answer.headers["Retry-After"]
    assert _count("posts") == 0


def test_a_poison_message_ends_in_the_dlq_after_five_receives_while_its_batch_mates_succeed(
    db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real media function behind the local event pump, on a moto queue with maxReceiveCount 5."""
    import boto3

    from local.aws import FAKE_CREDENTIALS
    from local.pump import SqsPump

    monkeypatch.setenv("MEDIA_SCANNER", "eicar")
    reset_app_state()
    sqs = boto3.client(
        "sqs",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    suffix = str(time.time_ns())
    dlq = sqs.create_queue(QueueName=f"poison-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"poison-{suffix}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"not": "an S3 or EventBridge event"}))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Event": "s3:TestEvent"}))  # a good one: skipped
    pump = SqsPump("media", queue, sqs, wait_s=0, visibility_timeout_s=0)
    for _ in range(12):
        pump.poll_once()

    def depth(url: str) -> int:
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )
        return sum(int(v) for v in attrs["Attributes"].values())

    assert depth(queue) == 0
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"])
    assert [json.loads(m["Body"]) for m in dead.get("Messages", [])] == [{"not": "an S3 or EventBridge event"}]


KILLED_MID_TRANSACTION = """
import os, sys, uuid
from sqlalchemy import text
from core import db
with db.session_scope() as session:
    session.execute(text("INSERT INTO users (id, email, username, password_hash) VALUES (:i, 'k@x.io', 'killed', 'x')"),
                    {"i": uuid.uuid4()})
    print("inserted", flush=True)
    os.kill(os.getpid(), 9)  # what a Lambda timeout does to the process: no commit, no cleanup
"""


def test_a_function_killed_mid_transaction_leaves_no_partial_rows(db: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["layers/core/python", "functions", "."])}
    result = subprocess.run(
        [sys.executable, "-c", KILLED_MID_TRANSACTION],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == -9 and "inserted" in result.stdout, result.stderr
    time.sleep(0.2)  # PostgreSQL notices the dropped connection and rolls the transaction back
    assert _count("users") == 0
