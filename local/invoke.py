"""Invoke functions in-process the way Lambda does; also `make invoke`.

The gateway and the event pump call `invoke_function`. Like a warm Lambda
container, each function handles one event at a time (Powertools resolvers
keep the current event on the module-level app, so two threads inside one
handler would see each other's requests). Event and response go through JSON
as they do on Lambda, so a handler returning something unserialisable fails
here instead of only in the cloud.

    python -m local.invoke ops events/ops/get_health.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.lambda_context import LocalLambdaContext

Handler = Callable[[Any, Any], Any]
Invoker = Callable[[str, Any], Any]

_handlers: dict[str, Handler] = {}
_function_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def load_handler(function_name: str) -> Handler:
    """`<function>.handler.handler`, imported on first use and cached (a warm container)."""
    with _registry_lock:
        if function_name not in _handlers:
            module = importlib.import_module(f"{function_name}.handler")
            _handlers[function_name] = module.handler
            _function_locks[function_name] = threading.Lock()
        return _handlers[function_name]


def invoke_function(function_name: str, event: Any) -> Any:
    """One synchronous invocation: JSON in, JSON out, one event per function at a time."""
    handler = load_handler(function_name)
    payload = json.loads(json.dumps(event))
    with _function_locks[function_name]:
        response = handler(payload, LocalLambdaContext(function_name))
    return json.loads(json.dumps(response))


def _display(response: Any) -> Any:
    """A JSON body is shown decoded; the raw response is still what the handler returned."""
    if isinstance(response, dict) and isinstance(response.get("body"), str) and not response.get("isBase64Encoded"):
        try:
            return {**response, "body": json.loads(response["body"])}
        except ValueError:
            return response
    return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="function folder name, e.g. ops")
    parser.add_argument("event", help="path of a JSON event file, or - for stdin")
    args = parser.parse_args(argv)
    from core.routes import FUNCTIONS

    if args.function not in {f.name for f in FUNCTIONS}:
        parser.error(f"unknown function {args.function!r}; one of: {', '.join(f.name for f in FUNCTIONS)}")

    raw = sys.stdin.read() if args.event == "-" else Path(args.event).read_text(encoding="utf-8")
    event = json.loads(raw)
    os.environ.setdefault("STAGE", "local")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", args.function)  # as the function factory sets it

    from local.environment import local_database

    owner = next(f for f in FUNCTIONS if f.name == args.function).owns_schema
    with local_database(reuse_running=True, as_owner=owner):  # the owner migrates, as CDK wires it
        try:
            response = invoke_function(args.function, event)
        except Exception as exc:  # noqa: BLE001 - a CLI reports the failure like Lambda would
            import traceback

            traceback.print_exc()
            print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}, indent=2))
            return 1
    print(json.dumps(_display(response), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    from local.environment import add_import_paths

    add_import_paths()
    raise SystemExit(main())
