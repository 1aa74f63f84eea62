"""The local Lambda Invoke API (local.lambda_api) through boto3, as the AI worker calls it in `make dev`:
only the targets of FunctionSpec.invokes on their `live` alias, Lambda's answers for a handler's
error, an unknown function or qualifier, an unsigned request and an oversized payload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from local.aws import FAKE_CREDENTIALS, REGION
from local.gateway import Gateway, GatewayServer
from local.lambda_api import LambdaApi, local_arn

CALLS: list[tuple[str, Any]] = []


def _handler(name: str, event: Any) -> Any:
    CALLS.append((name, event))
    if isinstance(event, dict) and event.get("boom"):
        raise ValueError("it broke")
    return {"echo": event}


@pytest.fixture(scope="module")
def server() -> Iterator[GatewayServer]:
    found = GatewayServer(Gateway(), "127.0.0.1", 0, functions=LambdaApi(invoke=_handler)).start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def client(server: GatewayServer) -> Any:
    CALLS.clear()
    return boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_the_live_alias_of_an_invoked_function_answers_its_handlers_json(client: Any) -> None:
    for name, qualifier in [(local_arn("ai_steps"), None), ("ai_steps", "live"), ("ai_steps:live", None)]:
        extra = {"Qualifier": qualifier} if qualifier else {}
        answer = client.invoke(FunctionName=name, Payload=b'{"v": 1}', **extra)
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        assert answer["Payload"].read() == b'{"echo": {"v": 1}}'
    assert [name for name, _ in CALLS] == ["ai_steps"] * 3


def test_a_handler_that_raises_is_a_function_error(client: Any) -> None:
    answer = client.invoke(FunctionName=local_arn("ai_steps"), Payload=b'{"boom": true}')
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    assert b'"errorType": "ValueError"' in answer["Payload"].read()


@pytest.mark.parametrize(
    "name",
    [
        "rooms",  # a function nobody may invoke
        "ai_worker",
        local_arn("ai_steps", "$LATEST"),  # only the alias the invokers are granted
        local_arn("ai_steps", "1"),
        "ai_steps:other",
    ],
)
def test_anything_else_is_not_found_and_runs_nothing(client: Any, name: str) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName=name, Payload=b"{}")
    assert CALLS == []


def test_unsigned_oversized_and_asynchronous_requests_are_refused(client: Any, server: GatewayServer) -> None:
    url = f"{server.url}/2015-03-31/functions/ai_steps:live/invocations"
    assert requests.post(url, data=b"{}", timeout=5).status_code == 403
    with pytest.raises(client.exceptions.RequestTooLargeException):
        client.invoke(FunctionName="ai_steps:live", Payload=b"[" + b"0," * (3 * 1024 * 1024) + b"0]")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.invoke(FunctionName="ai_steps:live", InvocationType="Event", Payload=b"{}")
    assert CALLS == []
