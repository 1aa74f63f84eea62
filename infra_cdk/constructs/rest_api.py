"""The REST API shell: stage, access logs, throttling, tracing, CORS preflight, and gateway
responses in the error envelope of API.md. Routes are added by the api stack."""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from infra_cdk.config import StageConfig
from infra_cdk.constructs.log_groups import stage_log_group
from infra_cdk.nag import acknowledge

# Same values the handlers send (core.http.finalize).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Cache-Control": "no-store",
}
CORS_ALLOW_HEADERS = ["Authorization", "Content-Type"]
CORS_EXPOSE_HEADERS = ["X-Request-Id", "Retry-After"]

# (response type, status or None to keep API Gateway's, code, message or None for API Gateway's own)
GATEWAY_RESPONSES: tuple[tuple[apigw.ResponseType, str | None, str, str | None], ...] = (
    (apigw.ResponseType.DEFAULT_4_XX, None, "bad_request", None),
    (apigw.ResponseType.DEFAULT_5_XX, None, "internal_error", "Internal server error"),
    (apigw.ResponseType.UNAUTHORIZED, "401", "unauthorized", "Missing, invalid or revoked access token"),
    (apigw.ResponseType.ACCESS_DENIED, "403", "forbidden", "Not allowed"),
    # API Gateway answers 403 "Missing Authentication Token" for any unknown path or method.
    (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", "not_found", "No such route"),
    (apigw.ResponseType.THROTTLED, "429", "rate_limited", "Too many requests"),
    (apigw.ResponseType.QUOTA_EXCEEDED, "429", "rate_limited", "Too many requests"),
    (apigw.ResponseType.REQUEST_TOO_LARGE, "413", "payload_too_large", "Request body too large"),
    (apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, "415", "unsupported_media_type", "Send the body as application/json"),
    (apigw.ResponseType.WAF_FILTERED, "403", "forbidden", "Request blocked"),
    # The authorizer failed (not a refused token): a dependency is down, as core.http answers it.
    (apigw.ResponseType.AUTHORIZER_FAILURE, "503", "unavailable", "Authorization is unavailable"),
)
RETRY_AFTER_S = 1

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        # The resource (/api/v1/shares/{share}), never $context.path: paths carry share and
        # invitation tokens, and access logs are kept 30 days.
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integration.latency",
        "integrationStatus": "$context.integration.status",
        "errorType": "$context.error.responseType",
        "errorMessage": "$context.error.message",
        "authorizerError": "$context.authorizer.error",
        "authorizerLatency": "$context.authorizer.integrationLatency",
        "wafStatus": "$context.waf.status",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)


def envelope_template(code: str, message: str | None) -> str:
    """VTL body of a gateway response: the error envelope with the request id."""
    message_json = "$context.error.messageString" if message is None else json.dumps(message)
    return (
        '{"error":{"code":"' + code + '","message":' + message_json + ',"details":[],'
        '"request_id":"$context.requestId"}}'
    )


def _quoted(value: str) -> str:
    return f"'{value}'"


def cors_origin_header(origins: Sequence[str]) -> str:
    """Gateway responses cannot run the allowlist (their headers are static values or request
    parameters, never conditions), and echoing the request's Origin would grant any site. So
    they name the stage's first origin: with several, the others cannot read API Gateway's own
    errors (401 from the authorizer, 429, 413, WAF), and the synth warns (docs/decisions.md)."""
    return _quoted(origins[0])


class RestApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config

        access_logs = stage_log_group(self, "AccessLogs", config)
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{config.prefix}-api",
            description=f"Social serverless API ({config.stage})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The account-level role API Gateway needs to write execution logs to CloudWatch.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=config.stage,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # never log request/response bodies (passwords, tokens)
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=config.throttle_rate,
                throttling_burst_limit=config.throttle_burst,
            ),
        )
        self._add_gateway_responses()

        acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            "Bodies are validated by each handler's pydantic models, which answer 422 with one entry "
            "per bad field (API.md); a gateway validator would answer first with a less precise error.",
        )
        role = self.api.node.try_find_child("CloudWatchRole")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "The AWS managed policy is the documented, minimal policy for API Gateway's "
                "account-level CloudWatch Logs role.",
            )

    @property
    def stage(self) -> apigw.Stage:
        return self.api.deployment_stage

    def add_cors_preflight(self, resource: apigw.IResource, methods: Sequence[str]) -> apigw.Method:
        """OPTIONS on a resource, answering for the stage's allowed origins only."""
        # cdk-nag does not require authorization on OPTIONS: browsers send no credentials there.
        return resource.add_cors_preflight(
            allow_origins=list(self.config.cors_allowed_origins),
            allow_methods=[*sorted(set(methods)), "OPTIONS"],
            allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
            max_age=Duration.hours(1),
            status_code=204,
        )

    def add_method_not_allowed(self, resource: apigw.IResource, methods: Sequence[str]) -> apigw.Method:
        """ANY on a resource, a mock answering 405 with `Allow` for every method it lacks.

        API Gateway takes a resource's declared methods first and its ANY method for the rest
        (DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT); methods outside that set never reach a
        resource, and API Gateway answers them itself (docs/decisions.md).
        """
        allow = ", ".join(sorted({*methods, "OPTIONS"}))
        headers = {"Allow": allow, "Content-Type": "application/json; charset=utf-8", **SECURITY_HEADERS}
        if len(self.config.cors_allowed_origins) == 1:
            headers["Access-Control-Allow-Origin"] = self.config.cors_allowed_origins[0]
            headers["Access-Control-Expose-Headers"] = ", ".join(CORS_EXPOSE_HEADERS)
        integration = apigw.MockIntegration(
            # Whatever the request's content type, the mock answers; the one integration response is
            # the default, so the method answers 405 whatever status the mock picked.
            passthrough_behavior=apigw.PassthroughBehavior.NEVER,
            request_templates={"application/json": '{"statusCode": 405}'},
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="405",
                    response_parameters={f"method.response.header.{k}": _quoted(v) for k, v in headers.items()},
                    response_templates={
                        "application/json": envelope_template("method_not_allowed", "Method not allowed here")
                    },
                )
            ],
        )
        method = resource.add_method(
            "ANY",
            integration,
            method_responses=[
                apigw.MethodResponse(
                    status_code="405", response_parameters={f"method.response.header.{k}": True for k in headers}
                )
            ],
        )
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(
                method,
                rule,
                "A mock that answers 405 with Allow for the methods this resource lacks; it reaches no "
                "function and tells nothing the public OpenAPI document does not.",
            )
        return method

    def _add_gateway_responses(self) -> None:
        origins = self.config.cors_allowed_origins
        headers = {name: _quoted(value) for name, value in SECURITY_HEADERS.items()}
        headers["Access-Control-Allow-Origin"] = cors_origin_header(origins)
        headers["Access-Control-Expose-Headers"] = _quoted(", ".join(CORS_EXPOSE_HEADERS))
        if len(origins) > 1:
            Annotations.of(self).add_warning_v2(
                "social:cors-gateway-responses",
                f"corsAllowedOrigins has {len(origins)} origins: API Gateway's own error responses name only "
                f"{origins[0]}; browsers on the others cannot read them. Serve the app from one origin "
                "(redirect the others) to avoid this.",
            )
        for response_type, status, code, message in GATEWAY_RESPONSES:
            extra = {"Retry-After": _quoted(str(RETRY_AFTER_S))} if status in ("429", "503") else {}
            self.api.add_gateway_response(
                f"Gw{response_type.response_type}",
                type=response_type,
                status_code=status,
                response_headers={**headers, **extra},
                templates={"application/json": envelope_template(code, message)},
            )
