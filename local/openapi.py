"""Builds the one OpenAPI document from every API function's resolver.

`python -m local.openapi` writes functions/ops/openapi.json (served by the ops
function); `--check` fails when the file is stale. The document is checked
against the route table: every row, nothing else, auth rows marked secured.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from core.http import ERROR_STATUSES_KEY
from core.routes import BASE_PATH, FUNCTIONS, ROUTES

OUTPUT = Path(__file__).resolve().parent.parent / "functions" / "ops" / "openapi.json"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details", "request_id"],
            "properties": {
                "code": {"type": "string", "examples": ["validation_error"]},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
                "request_id": {"type": "string"},
            },
        }
    },
}

# Status -> description, for the errors any operation may answer.
COMMON_ERRORS = {
    "400": "Bad request: bad cursor or query parameter",
    "404": "Not found",
    "500": "Internal error (never a stack trace)",
    "503": "Database or dependency unavailable (Retry-After is set), or a feature switched off (feature_disabled)",
}
BODY_ERRORS = {
    "400": "Bad request: body is not JSON, bad cursor or query parameter",
    "413": "Body over the size limit",
    "415": "Body sent with a content type other than application/json",
    "422": "Validation error: details lists every bad field",
}
AUTH_ERRORS = {"401": "Missing, malformed, expired, revoked or forged token", "403": "Not allowed"}
# Statuses a handler declares with core.http.documented(...).
DECLARED_ERRORS = {
    "401": "Not authenticated, or credentials refused",
    "402": "The room's master has too few AI tokens for this request (insufficient_balance)",
    "403": "Authenticated but not allowed",
    "404": "Unknown id, or not yours",
    "409": "Conflicts with the current state",
    "413": "Over the size limit",
    "429": "Rate limited; see Retry-After",
}


def _schema_of(function_name: str) -> dict[str, Any]:
    module = importlib.import_module(f"{function_name}.handler")
    schema = module.app.get_openapi_schema()
    return dict(json.loads(schema.model_dump_json(by_alias=True, exclude_none=True)))


def _plain(value: Any) -> Any:
    """Pydantic models the merge leaves in place (servers, security schemes) as JSON."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    raise TypeError(f"cannot serialise {type(value).__name__} into the OpenAPI document")


def build() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

    merge = OpenAPIMerge(
        title="Social serverless API",
        version="1.0.0",
        description="Social feed, private media storage and team chat rooms. Errors use one envelope.",
        servers=[Server(url="/")],
        security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
        on_conflict="error",
    )
    for spec in FUNCTIONS:
        if spec.kind == "api":
            merge.add_schema(_schema_of(spec.name))
    document = merge.get_openapi_schema()
    document = json.loads(json.dumps(document, default=_plain))
    _decorate(document)
    _refuse_nul_in_requests(document)
    return document


# core.http refuses a NUL anywhere in a request (PostgreSQL text cannot hold it); every free
# string a request carries declares that, so schema-valid input is never refused for it.
NO_NUL = "^[^\\x00]*$"


def _refuse_nul_in_requests(document: dict[str, Any]) -> None:
    components = document.get("components", {}).get("schemas", {})
    seen: set[str] = set()

    def visit(schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                visit(components.get(name))
            return
        if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & schema.keys():
            schema["pattern"] = NO_NUL
        for key in ("items", "additionalProperties", "not"):
            visit(schema.get(key))
        for key in ("anyOf", "oneOf", "allOf"):
            for option in schema.get(key, []):
                visit(option)
        for value in schema.get("properties", {}).values():
            visit(value)

    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                visit(parameter.get("schema"))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                visit(media.get("schema"))


def _decorate(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    by_key = {(r.method.lower(), r.path): r for r in ROUTES}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            route = by_key.get((method, path))
            if route is None:
                raise SystemExit(f"{method.upper()} {path} is served but not in core.routes.ROUTES")
            body = BODY_ERRORS if "requestBody" in operation else {}
            declared = {str(s): DECLARED_ERRORS[str(s)] for s in operation.pop(ERROR_STATUSES_KEY, [])}
            errors = {**COMMON_ERRORS, **body, **(AUTH_ERRORS if route.auth else {}), **declared}
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # Powertools' own shape; ours is the envelope
            if "204" in responses:
                responses["204"] = {"description": "No content"}  # nothing to parse: no media type
            for status, description in errors.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if int(status) >= 400:  # every error, declared here or by the handler, is the envelope
                    response["content"] = {"application/json": {"schema": ref}}
            if route.auth:
                operation["security"] = [{"bearerAuth": []}]
    documented = {(m, p) for p, ops in document.get("paths", {}).items() for m in ops}
    missing = sorted(f"{m.upper()} {p}" for m, p in by_key if (m, p) not in documented)
    if missing:
        raise SystemExit(f"routes without a handler in the document: {missing}")
    used = json.dumps(document.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"#/components/schemas/{name}" not in used:
            components["schemas"].pop(name, None)
    document.setdefault("info", {})["x-base-path"] = BASE_PATH


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed document is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is stale: run `make openapi`", file=sys.stderr)
            return 1
        print("openapi.json is current")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
