"""The WebSocket API of infra_cdk/constructs/realtime.py: routes to the realtime function's alias,
a two-way $default, stage throttling, access logs without the ticket, and ManageConnections on
this API's stage only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth

from core.routes import WEBSOCKET_ROUTES
from infra_cdk.config import stage_config
from infra_cdk.constructs.realtime import ACCESS_LOG_FORMAT

pytestmark = pytest.mark.infra


def _one(synth: Synth, type_: str) -> tuple[str, dict[str, Any]]:
    (found,) = synth.resources("api", type_).items()
    return found[0], found[1]["Properties"]


def _realtime_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    for logical_id, fn in synth.resources("api", "AWS::Lambda::Function").items():
        if fn["Properties"].get("FunctionName") == f"social-{synth.stage}-realtime":
            return logical_id, fn["Properties"]
    raise AssertionError("no realtime function")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_routes_reach_the_realtime_alias_and_default_answers_back(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    api_id, api = _one(synth, "AWS::ApiGatewayV2::Api")
    assert api["ProtocolType"] == "WEBSOCKET" and api["RouteSelectionExpression"] == "$request.body.action"
    routes = synth.resources("api", "AWS::ApiGatewayV2::Route")
    assert sorted(r["Properties"]["RouteKey"] for r in routes.values()) == sorted(k for k, _ in WEBSOCKET_ROUTES)
    integrations = synth.resources("api", "AWS::ApiGatewayV2::Integration")
    fn_id, _ = _realtime_function(synth)
    all_aliases = synth.resources("api", "AWS::Lambda::Alias").items()
    (alias_id,) = [k for k, a in all_aliases if a["Properties"]["FunctionName"] == {"Ref": fn_id}]
    for integration in integrations.values():
        props = integration["Properties"]
        assert props["IntegrationType"] == "AWS_PROXY" and props["ApiId"] == {"Ref": api_id}
        assert alias_id in json.dumps(props["IntegrationUri"])  # the live alias, never $LATEST
    (response,) = synth.resources("api", "AWS::ApiGatewayV2::RouteResponse").values()
    assert response["Properties"]["RouteResponseKey"] == "$default"
    (default_route,) = [k for k, r in routes.items() if r["Properties"]["RouteKey"] == "$default"]
    assert response["Properties"]["RouteId"] == {"Ref": default_route}
    assert all(r["Properties"].get("AuthorizationType", "NONE") == "NONE" for r in routes.values())  # the ticket
    permissions = [
        p["Properties"]
        for p in synth.resources("api", "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
        and api_id in json.dumps(p["Properties"]["SourceArn"])
    ]
    assert len(permissions) == 3 and all(p["FunctionName"] == {"Ref": alias_id} for p in permissions)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_stage_is_throttled_and_logs_without_the_ticket(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    config = stage_config(stage)
    _, props = _one(synth, "AWS::ApiGatewayV2::Stage")
    assert props["StageName"] == stage and props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == config.throttle_rate
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] == config.throttle_burst
    log_format = props["AccessLogSettings"]["Format"]
    assert log_format == ACCESS_LOG_FORMAT
    fields = json.loads(log_format)
    assert {"connectionId", "routeKey", "eventType", "status"} <= fields.keys()
    for forbidden in ("$request", "querystring", "ticket", "body"):
        assert forbidden not in log_format.lower()
    groups = synth.resources("api", "AWS::Logs::LogGroup")
    destination = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert groups[destination]["Properties"]["RetentionInDays"] == 30


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_manage_connections_on_this_api_stage_only(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    api_id, _ = _one(synth, "AWS::ApiGatewayV2::Api")
    _, fn = _realtime_function(synth)
    role_id = fn["Role"]["Fn::GetAtt"][0]
    grants = []
    for policy in synth.resources("api", "AWS::IAM::Policy").values():
        props = policy["Properties"]
        for statement in props["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("execute-api:") for a in actions):
                grants.append(({r["Ref"] for r in props["Roles"]}, actions, json.dumps(statement["Resource"])))
    assert len(grants) == 1, grants  # no other role may push to connections
    roles, actions, resource = grants[0]
    assert roles == {role_id} and actions == ["execute-api:ManageConnections"]
    assert api_id in resource and resource.endswith(f'"/{stage}/POST/@connections/*"]]}}')
    assert '"*"' not in resource


def test_the_function_knows_its_urls_and_runs_in_the_vpc(dev: Synth) -> None:
    _, fn = _realtime_function(dev)
    env = fn["Environment"]["Variables"]
    ws, callback = json.dumps(env["REALTIME_WS_URL"]), json.dumps(env["REALTIME_MANAGEMENT_URL"])
    assert ws.startswith('{"Fn::Join": ["", ["wss://"') and "/dev" in ws
    assert callback.startswith('{"Fn::Join": ["", ["https://"') and "/dev" in callback
    assert fn["VpcConfig"]["SubnetIds"]  # the database; the route response needs no way out
