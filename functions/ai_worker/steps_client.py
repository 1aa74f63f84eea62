"""The worker's side of its database steps (core.ai_steps): one request, one typed response.

The transport is configuration: with AI_STEPS_FUNCTION_NAME (CDK sets the `ai_steps` function's
`live` alias ARN; `make dev` the same name on its local Lambda API) a synchronous Lambda Invoke
through boto3; without it, the step code itself in this process (tests, tools), through the same
JSON both ways, so what crosses the contract is the same.

Every step is safe to repeat (reads, and a conditional UPDATE), so the client retries once what
did not arrive; a step that raised (StepRejected included) is StepFailed here, and the job fails
like any other error (the queue retries it; its last receive fails the reply).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, TypeVar

from ai_worker.settings import AiWorkerSettings
from core.ai_steps import (
    DeltaRequest,
    DeltaResponse,
    FinishRequest,
    FinishResponse,
    StartRequest,
    StartResponse,
    StepFailed,
    SummaryRequest,
    SummaryResponse,
)

R = TypeVar("R", StartResponse, SummaryResponse, DeltaResponse, FinishResponse)

# A step answers in milliseconds; the first delta waits up to 2 s for the fan-out; ai_steps has 10 s.
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 12


def start(request: StartRequest) -> StartResponse:
    return _call(request, StartResponse)


def summary(request: SummaryRequest) -> SummaryResponse:
    return _call(request, SummaryResponse)


def delta(request: DeltaRequest) -> DeltaResponse:
    return _call(request, DeltaResponse)


def finish(request: FinishRequest) -> FinishResponse:
    return _call(request, FinishResponse)


def _call(request: StartRequest | SummaryRequest | DeltaRequest | FinishRequest, response: type[R]) -> R:
    payload = request.model_dump(mode="json")
    name = AiWorkerSettings.current().ai_steps_function_name
    answer = invoke(name, payload) if name else in_process(payload)
    return response.model_validate(answer)


def in_process(payload: dict[str, Any]) -> Any:
    """The steps in this process (no AI_STEPS_FUNCTION_NAME): JSON in, JSON out, as over Lambda."""
    from ai_steps import steps  # the ai_steps function's code: on the path in tests and `make dev` tools

    return json.loads(json.dumps(steps.handle(json.loads(json.dumps(payload)))))


@lru_cache(maxsize=1)
def lambda_client() -> Any:
    """The container's Lambda client (boto3 reads AWS_ENDPOINT_URL_LAMBDA locally): short timeouts,
    one retry."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 2},
    )
    return boto3.client("lambda", config=config)


def invoke(function_name: str, payload: dict[str, Any]) -> Any:
    """Lambda Invoke, RequestResponse: the function's JSON answer, or StepFailed."""
    try:
        answer = lambda_client().invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload, separators=(",", ":")).encode("utf-8"),
        )
        body = answer["Payload"].read()
    except Exception as exc:
        raise StepFailed(f"invoking the AI steps failed: {type(exc).__name__}") from exc
    if answer.get("FunctionError"):
        try:
            error = json.loads(body).get("errorType", "")
        except (ValueError, AttributeError):
            error = ""
        raise StepFailed(f"the AI step {payload.get('step')!r} failed: {answer['FunctionError']} {error}".strip())
    return json.loads(body)
