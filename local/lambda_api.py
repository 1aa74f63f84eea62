"""Lambda's Invoke API on the gateway's port, so a function that invokes another (FunctionSpec.invokes:
the AI worker its database steps) runs its real transport in `make dev`: boto3 unchanged, its
`lambda` client pointed here with AWS_ENDPOINT_URL_LAMBDA (a service-specific endpoint; S3 and SQS
stay on moto), as the Management API is emulated at /ws/@connections.

`POST /2015-03-31/functions/{FunctionName}/invocations` (FunctionName: a name, `name:qualifier`, a
full or partial ARN; `?Qualifier=`) with `X-Amz-Invocation-Type: RequestResponse` (the default)
runs the handler in-process (local.invoke: JSON in and out, one event per function at a time) and
answers as Lambda does (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html): 200 with the
function's JSON, or 200 with `X-Amz-Function-Error: Unhandled` and `{errorMessage, errorType,
stackTrace}` when the handler raised; 404 ResourceNotFoundException for a function nobody may
invoke (only the targets of FunctionSpec.invokes, on `live`, as CDK grants) or another qualifier;
413 over the 6 MB synchronous payload; SigV4 required, as for the Management API.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
import uuid
from collections.abc import Iterable
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from core.routes import FUNCTIONS, FunctionSpec
from local.invoke import Invoker, invoke_function
from local.messages import Headers, Reply, Request, header_value

PREFIX = "/2015-03-31/functions/"
SUFFIX = "/invocations"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # synchronous invocations
ALIAS = "live"  # infra_cdk.constructs.function_factory.LIVE_ALIAS: what the invokers are granted
EXECUTED_VERSION = "1"
# name | name:qualifier | arn:aws:lambda:region:account:function:name[:qualifier] | account:function:name[:q]
_NAME = re.compile(
    r"^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>[A-Za-z0-9$_-]{1,128}))?$"
)


def local_arn(name: str, qualifier: str = ALIAS) -> str:
    """What `make dev` gives an invoker as `<NAME>_FUNCTION_NAME`: an alias ARN, as CDK does."""
    return f"arn:aws:lambda:us-east-1:000000000000:function:{name}:{qualifier}"


class LambdaApi:
    """The Invoke API for the functions other functions may invoke (FunctionSpec.invokes)."""

    def __init__(self, specs: Iterable[FunctionSpec] = FUNCTIONS, *, invoke: Invoker = invoke_function) -> None:
        self.targets = {target for spec in specs for target in spec.invokes}
        self.invoke = invoke

    @staticmethod
    def handles(target: str) -> bool:
        return urlsplit(target).path.startswith(PREFIX)

    @staticmethod
    def logged_path(target: str) -> str:
        """The function and qualifier invoked (names, no payload), or the operation's template."""
        path = urlsplit(target).path
        found = _NAME.match(unquote(path[len(PREFIX) : -len(SUFFIX)])) if path.endswith(SUFFIX) else None
        name = f"{found.group('name')}:{found.group('qualifier') or '$LATEST'}" if found else "{FunctionName}"
        return f"{PREFIX}{name}{SUFFIX}"

    def env(self, base_url: str) -> dict[str, str]:
        """For `make dev`'s functions: boto3's Lambda endpoint, and each target's name as CDK sets it."""
        return {
            "AWS_ENDPOINT_URL_LAMBDA": base_url,
            **{f"{name.upper()}_FUNCTION_NAME": local_arn(name) for name in sorted(self.targets)},
        }

    def handle(self, request: Request) -> Reply:
        split = urlsplit(request.target)
        path = split.path
        if request.method.upper() != "POST" or not path.endswith(SUFFIX):
            return _error(404, "UnknownOperationException", "Unknown operation")
        if not (header_value(request.headers, "authorization") or "").startswith("AWS4-HMAC-SHA256 "):
            return _error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        found = _NAME.match(unquote(path[len(PREFIX) : -len(SUFFIX)]))
        qualifiers = parse_qs(split.query).get("Qualifier", [])
        name = found.group("name") if found else None
        qualifier = (found.group("qualifier") if found else None) or (qualifiers[0] if qualifiers else None)
        if name not in self.targets or qualifier not in (ALIAS, None):
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}:{qualifier}")
        kind = header_value(request.headers, "x-amz-invocation-type") or "RequestResponse"
        if kind != "RequestResponse":
            return _error(400, "InvalidParameterValueException", f"{kind} invocations are not emulated")
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return _error(413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")
        try:
            event = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        try:
            result = self.invoke(name, event)
        except Exception as exc:  # noqa: BLE001 - the handler's failure is the invoker's FunctionError
            traceback.print_exc(file=sys.stderr)
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []}
            return _reply(200, json.dumps(error).encode(), [("X-Amz-Function-Error", "Unhandled")])
        return _reply(200, json.dumps(result).encode())


def _reply(status: int, body: bytes, headers: Headers | None = None) -> Reply:
    base: Headers = [
        ("Date", formatdate(usegmt=True)),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("Content-Type", "application/json"),
        ("X-Amz-Executed-Version", EXECUTED_VERSION),
    ]
    return Reply(status, base + list(headers or []), body)


def _error(status: int, error_type: str, message: str) -> Reply:
    """The error shape botocore reads: the type in x-amzn-ErrorType, the message in the body."""
    body = json.dumps({"Type": "User", "message": message}).encode()
    return _reply(status, body, [("x-amzn-ErrorType", error_type)])
