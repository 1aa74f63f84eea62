"""Powertools' event-handler internals: the only module that touches them.

Written against aws-lambda-powertools 3.37.0 (`WRITTEN_AGAINST`, pinned in
layers/deps/requirements.txt); tests/unit/internals/test_powertools_contract.py checks each
internal below.

- `write_responses_with`: a resolver built with `enable_validation=True` keeps its response
  validation in the private attribute `_response_validation_middleware` (an
  `OpenAPIResponseValidationMiddleware(validation_serializer=None,
  has_response_validation_error=False)` when no serializer and no
  `response_validation_error_http_code` are given), and every route's middleware stack appends
  that attribute last, before the handler. It is replaced by a subclass built the same way whose
  private `_handle_response(*, route, response)` first offers the body and the route's declared
  return type (`route.dependant.return_param`, a ModelField whose `type_` is the annotation) to a
  `shortcut`; when the shortcut writes the JSON, Powertools neither validates nor serializes it
  again (a `str` body is sent as is). Otherwise Powertools' own `_handle_response` runs.

Should the attribute be missing at run time (a Powertools the contracts were not checked
against), the resolver is left as built: responses take Powertools' own path, correct and slower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIResponseValidationMiddleware

LIBRARY = "aws-lambda-powertools"
WRITTEN_AGAINST = "3.37.0"

TOUCHES = {
    "aws_lambda_powertools.event_handler.api_gateway.ApiGatewayResolver._response_validation_middleware": (
        "replaced: the response validation every route's middleware stack ends with"
    ),
    "aws_lambda_powertools.event_handler.middlewares.openapi_validation."
    "OpenAPIResponseValidationMiddleware._handle_response": "overridden: the shortcut goes first",
    "aws_lambda_powertools.event_handler.api_gateway.Route.dependant": "the route's declared return type",
    "aws_lambda_powertools.event_handler.openapi.params.Dependant.return_param": "a ModelField, or None",
    "aws_lambda_powertools.event_handler.openapi.compat.ModelField.type_": "the return annotation",
}

# (response body, the route's declared return type) -> the body as JSON text, or None for Powertools' way
Shortcut = Callable[[Any, Any], "str | None"]


class _ShortcutResponseValidation(OpenAPIResponseValidationMiddleware):
    """Powertools' response validation, after a shortcut that may write the JSON itself."""

    def __init__(self, shortcut: Shortcut) -> None:
        super().__init__()  # the options the resolver itself uses without a serializer
        self.__shortcut = shortcut

    def _handle_response(self, *, route: Any, response: Response[Any]) -> Response[Any]:
        field = route.dependant.return_param
        if field is not None and response.is_json():
            text = self.__shortcut(response.body, field.type_)
            if text is not None:
                response.body = text  # a str: the resolver does not serialize it again
                return response
        return super()._handle_response(route=route, response=response)


def write_responses_with(app: APIGatewayRestResolver, shortcut: Shortcut) -> bool:
    """Let `shortcut` write the JSON of `app`'s responses; True when it is installed."""
    if not isinstance(getattr(app, "_response_validation_middleware", None), OpenAPIResponseValidationMiddleware):
        return False  # validation off, or a Powertools that keeps it elsewhere: its own path
    app._response_validation_middleware = _ShortcutResponseValidation(shortcut)
    return True
