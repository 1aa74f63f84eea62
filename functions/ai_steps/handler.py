"""The AI worker's database steps, invoked synchronously by the worker (core.ai_steps): one request
in, one response out. A request that is not the contract's raises StepRejected (Lambda reports it
to the invoker as a function error); so does any step's failure."""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from typing import Any

from aws_lambda_powertools import Logger

from ai_steps import steps

logger = Logger(service="ai_steps")


@coldstart.background_entry
def handler(event: Any, context: Any) -> dict[str, Any]:
    return steps.handle(event)
