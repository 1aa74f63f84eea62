"""The realtime feature's cloud resources: the WebSocket API (API.md, Realtime) in front of the
`realtime` function, which the one function factory makes like every other (core.routes).

- Routes from core.routes.WEBSOCKET_ROUTES, each a Lambda proxy integration of the function's
  `live` alias. `$default` is two-way (a route response): API Gateway sends the body the function
  returns to the calling connection, so answering a frame (pong, subscribed, error) needs no call
  to the Management API.
- One stage named after the stage, auto-deployed, throttled with the stage's limits, with JSON
  access logs kept 30 days that never hold the query string (the ticket travels there) nor any
  message body.
- For every function that pushes (`FunctionSpec.pushes`: realtime, the fan-out):
  `execute-api:ManageConnections` on this API's stage only (POST, the one call core.push makes) and
  REALTIME_MANAGEMENT_URL (`@connections`); realtime also gets REALTIME_WS_URL (what a ticket tells
  the client).

Network (docs/decisions.md "Where each function runs"): the pushing functions run in the VPC, for
the database, except the AI worker, which runs outside it (it reaches @connections directly). The
Management API of a WebSocket API is its public API Gateway endpoint, which an
`execute-api` interface endpoint cannot reach (those serve private REST APIs), so the API is
dual-stack and the pushers leave the VPC over IPv6 through its egress-only internet gateway
(`egress="ipv6"`), in every stage, at no hourly cost.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import ArnFormat, CfnOutput, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration
from constructs import Construct

from core.routes import WEBSOCKET_ROUTES, FunctionSpec
from infra_cdk.config import StageConfig
from infra_cdk.constructs.log_groups import stage_log_group
from infra_cdk.nag import acknowledge, finding_label

REALTIME = "realtime"
TWO_WAY_ROUTES = frozenset({"$default"})  # as local/websocket.py emulates them

# WebSocket access-log variables only: no $request.* (the `?ticket=` query string), no bodies.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "requestTime": "$context.requestTime",
        "eventType": "$context.eventType",
        "routeKey": "$context.routeKey",
        "connectionId": "$context.connectionId",
        "messageId": "$context.messageId",
        "status": "$context.status",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "errorType": "$context.error.responseType",
        "errorMessage": "$context.error.message",
    },
    separators=(",", ":"),
)


class RealtimeResources(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Mapping[str, lambda_.Function],
        aliases: Mapping[str, lambda_.Alias],
        specs: Sequence[FunctionSpec],
    ) -> None:
        super().__init__(scope, construct_id)
        self.api: apigwv2.WebSocketApi | None = None
        self.stage: apigwv2.WebSocketStage | None = None
        routes = dict(WEBSOCKET_ROUTES)
        if not routes or any(name not in functions for name in routes.values()):
            return
        if set(routes.values()) != {REALTIME}:
            raise ValueError("every WebSocket route is served by the realtime function (core.routes.WEBSOCKET_ROUTES)")
        fn = functions[REALTIME]
        target: lambda_.IFunction = aliases.get(REALTIME, fn)
        integration = WebSocketLambdaIntegration("Realtime", target)

        def route(key: str) -> apigwv2.WebSocketRouteOptions:
            return apigwv2.WebSocketRouteOptions(integration=integration, return_response=key in TWO_WAY_ROUTES)

        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=f"{config.prefix}-realtime",
            description=f"Realtime rooms, WebSocket ({config.stage}): frames are JSON {{action, ...}}",
            route_selection_expression="$request.body.action",
            connect_route_options=route("$connect"),
            disconnect_route_options=route("$disconnect"),
            default_route_options=route("$default"),
            # IPv4 and IPv6: the pushing functions in the VPC reach @connections over IPv6 only.
            ip_address_type=apigwv2.IpAddressType.DUAL_STACK,
        )
        access_logs = stage_log_group(self, "AccessLogs", config)
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=config.stage,
            auto_deploy=True,
            description=f"{config.prefix} realtime",
            throttle=apigwv2.ThrottleSettings(rate_limit=config.throttle_rate, burst_limit=config.throttle_burst),
            access_log_settings=_AccessLogs(access_logs),
        )

        fn.add_environment("REALTIME_WS_URL", self.stage.url)
        for spec in specs:  # every function that posts frames to connections (FunctionSpec.pushes)
            if spec.pushes and spec.name in functions:
                functions[spec.name].add_environment("REALTIME_MANAGEMENT_URL", self.stage.callback_url)
                self._grant_push(config, functions[spec.name], spec.name)

        for found in self.api.node.children:
            if not isinstance(found, apigwv2.WebSocketRoute):
                continue
            acknowledge(
                found,
                "AwsSolutions-APIG4",
                "A WebSocket connection opens only with a single-use ticket that $connect spends (issued by "
                "POST /realtime/tickets behind the JWT authorizer); $default and $disconnect reach only "
                "connections opened that way.",
            )
            acknowledge(
                found,
                "AwsSolutions-COG4",
                "Authorized by our own single-use tickets, issued to holders of our JWT access tokens; there "
                "is no Cognito user pool.",
            )
        CfnOutput(scope, "WebSocketUrl", value=self.stage.url)

    def _grant_push(self, config: StageConfig, fn: lambda_.Function, name: str) -> None:
        """PostToConnection on this API's stage: POST /@connections/{id}, the only call core.push makes
        (not GET or DELETE, and no other API or stage)."""
        assert self.api is not None and self.stage is not None
        arn = Stack.of(self).format_arn(
            service="execute-api",
            resource=self.api.api_id,
            resource_name=f"{self.stage.stage_name}/POST/@connections/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        role = fn.role
        assert role is not None  # the factory always gives one
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="RealtimePush", actions=["execute-api:ManageConnections"], resources=[arn])
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{finding_label(self, arn)}]",
            f"{config.prefix}-{name} posts frames to connections of this one WebSocket API and stage "
            "(POST @connections only); connection ids are made by API Gateway per connection, so the last "
            "segment cannot be named in advance.",
        )


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """The stage's access-log settings: our log group and ACCESS_LOG_FORMAT."""

    def __init__(self, group: logs.ILogGroup) -> None:
        self._group = group

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return apigwv2.LogGroupLogDestination(self._group)

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT)
