"""Contracts of the Powertools internals core.internals.powertools_validation relies on (one test
per internal it lists in TOUCHES). A Powertools upgrade that changes one fails here, instead of
responses silently taking the slower path."""

from __future__ import annotations

import inspect
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIResponseValidationMiddleware
from pydantic import BaseModel

from core.internals import powertools_validation
from local.events import proxy_event


class Thing(BaseModel):
    name: str
    count: int


def _resolver(shortcut: Any) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    assert powertools_validation.write_responses_with(app, shortcut)

    @app.get("/model")
    def model() -> Thing:
        return Thing(name="a", count=1)

    @app.get("/dict")
    def as_dict() -> Thing:
        return {"name": "b", "count": "2"}  # type: ignore[return-value]  # Powertools validates it

    @app.get("/undeclared")
    def undeclared():  # type: ignore[no-untyped-def]  # no return type: nothing declared
        return {"name": "c"}

    return app


def test_the_resolver_keeps_its_response_validation_in_a_private_attribute() -> None:
    """ApiGatewayResolver._response_validation_middleware: built like ours when no serializer and
    no response_validation_error_http_code are given, so the swap changes nothing else."""
    middleware = APIGatewayRestResolver(enable_validation=True)._response_validation_middleware
    assert type(middleware) is OpenAPIResponseValidationMiddleware
    ours = powertools_validation._ShortcutResponseValidation(lambda body, declared: None)
    assert vars(middleware) == {k: v for k, v in vars(ours).items() if "shortcut" not in k}
    assert middleware._validation_serializer is None and middleware._has_response_validation_error is False
    assert not hasattr(APIGatewayRestResolver(), "_response_validation_middleware")  # validation off: nothing to swap
    assert powertools_validation.write_responses_with(APIGatewayRestResolver(), lambda body, declared: None) is False


def test_handle_response_is_what_the_middleware_runs_on_each_response() -> None:
    """OpenAPIResponseValidationMiddleware._handle_response(*, route, response)."""
    parameters = inspect.signature(OpenAPIResponseValidationMiddleware._handle_response).parameters
    assert [(p.name, p.kind) for p in parameters.values()] == [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("route", inspect.Parameter.KEYWORD_ONLY),
        ("response", inspect.Parameter.KEYWORD_ONLY),
    ]
    assert "_handle_response" in OpenAPIResponseValidationMiddleware.handler.__code__.co_names


def test_the_swapped_middleware_runs_and_sees_the_declared_return_type() -> None:
    """Route.dependant, Dependant.return_param and ModelField.type_: the shortcut gets each
    response's body and the route's return annotation; its text is sent as is."""
    offered: list[tuple[Any, Any]] = []

    def shortcut(body: Any, declared: Any) -> str | None:
        offered.append((body, declared))
        return '{"written":"once"}' if isinstance(body, Thing) else None

    app = _resolver(shortcut)
    model = app.resolve(proxy_event("GET", "/model"), None)
    assert model["statusCode"] == 200 and model["body"] == '{"written":"once"}'
    assert offered == [(Thing(name="a", count=1), Thing)]

    offered.clear()
    from_dict = app.resolve(proxy_event("GET", "/dict"), None)  # the shortcut declines: Powertools validates
    assert offered == [({"name": "b", "count": "2"}, Thing)]
    assert json.loads(from_dict["body"]) == {"name": "b", "count": 2}

    offered.clear()
    undeclared = app.resolve(proxy_event("GET", "/undeclared"), None)
    assert offered == [] and json.loads(undeclared["body"]) == {"name": "c"}  # return_param is None


def test_every_route_ends_its_middleware_stack_with_the_resolvers_attribute() -> None:
    from aws_lambda_powertools.event_handler.api_gateway import Route

    source = inspect.getsource(Route._build_middleware_stack)
    assert "all_middlewares.append(app._response_validation_middleware)" in source
