"""`make dev` end to end: real HTTP, a presigned upload with a plain client, clean shutdown.

The module shares one stack; the last tests stop it (SIGINT) and start it again
on the same data (SIGTERM), so they must stay last.
"""

from __future__ import annotations

import json
import signal
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote_plus

import boto3
import pytest
import requests

from core.routes import FUNCTIONS
from local.postgres import port_is_open

if TYPE_CHECKING:
    from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


def _aws(stack: LocalStack, service: Literal["s3", "sqs"]) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_health(local_stack: LocalStack) -> None:
    response = requests.get(f"{local_stack.api}/api/v1/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok"}
    assert response.headers["X-Request-Id"]
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_openapi_document(local_stack: LocalStack) -> None:
    response = requests.get(f"{local_stack.api}/api/v1/openapi.json", timeout=5)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/health" in document["paths"]


def test_swagger_ui(local_stack: LocalStack) -> None:
    page = requests.get(f"{local_stack.api}/docs", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "swagger-ui" in page.text
    assert requests.get(f"{local_stack.api}/docs/swagger-ui-bundle.min.js", timeout=5).status_code == 200


def test_unknown_route(local_stack: LocalStack) -> None:
    response = requests.get(f"{local_stack.api}/api/v1/nope", timeout=5)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_presigned_upload_notifies_the_media_queue(local_stack: LocalStack) -> None:
    if any(f.queue is not None and f.queue.name == "media" for f in FUNCTIONS):
        pytest.skip("the stack's media pump consumes this queue; the media e2e tests cover that path")
    s3, sqs = _aws(local_stack, "s3"), _aws(local_stack, "sqs")
    url = s3.generate_presigned_url(
        "put_object",
        ExpiresIn=60,
        Params={"Bucket": "assets-local", "Key": "uploads/e2e.png", "ContentType": "image/png"},
    )
    upload = requests.put(url, data=b"\x89PNG\r\n\x1a\n", headers={"Content-Type": "image/png"}, timeout=5)
    assert upload.status_code == 200, upload.text
    queue_url = sqs.get_queue_url(QueueName="media-local")["QueueUrl"]
    keys: list[str] = []
    deadline = time.monotonic() + 10
    while not keys and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            records = json.loads(message["Body"]).get("Records", [])  # skips the s3:TestEvent
            keys += [unquote_plus(r["s3"]["object"]["key"]) for r in records]
    assert "uploads/e2e.png" in keys


def test_sigint_stops_everything(local_stack: LocalStack) -> None:
    assert local_stack.stop(signal.SIGINT) == 0, local_stack.log()
    assert not (local_stack.data_dir / "pgdata" / "postmaster.pid").exists()
    for port in (local_stack.api_port, local_stack.pg_port, local_stack.aws_port):
        assert not port_is_open("127.0.0.1", port)
    assert "stopped" in local_stack.log()


def test_a_restart_reuses_the_data_and_sigterm_stops_it(local_stack: LocalStack) -> None:
    local_stack.start()
    assert "initialising PostgreSQL" not in local_stack.log()
    assert requests.get(f"{local_stack.api}/api/v1/health", timeout=5).json() == {"status": "ok", "db": "ok"}
    assert local_stack.stop(signal.SIGTERM) == 0, local_stack.log()
    assert not (local_stack.data_dir / "pgdata" / "postmaster.pid").exists()
