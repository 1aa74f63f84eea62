"""The WebSocket API of infra_cdk/constructs/realtime.py: routes to the realtime function's alias,
a two-way $default, stage throttling, access logs without the ticket, and ManageConnections on
this API's stage only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth, invoked_function

from core.routes import FUNCTIONS, WEBSOCKET_ROUTES
from infra_cdk.config import stage_config
from infra_cdk.constructs.realtime import ACCESS_LOG_FORMAT

pytestmark = pytest.mark.infra


def _one(synth: Synth, type_: str) -> tuple[str, dict[str, Any]]:
    (found,) = synth.resources("api", type_).items()
    return found[0], found[1]["Properties"]


def _realtime_function(synth: Synth, name: str = "realtime") -> tuple[str, dict[str, Any]]:
    for logical_id, fn in synth.resources("api", "AWS::Lambda::Function").items():
        if fn["Properties"].get("FunctionName") == f"social-{synth.stage}-{name}":
            return logical_id, fn["Properties"]
    raise AssertionError(f"no {name} function")


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
    # The functions declared as pushing (realtime for typing, the room-events fan-out); no other role may.
    names = {spec.name for spec in FUNCTIONS if spec.pushes}
    assert names >= {"realtime", "fanout"}
    pushers = {_realtime_function(synth, name)[1]["Role"]["Fn::GetAtt"][0] for name in names}
    grants = []
    for policy in synth.resources("api", "AWS::IAM::Policy").values():
        props = policy["Properties"]
        for statement in props["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("execute-api:") for a in actions):
                grants.append(({r["Ref"] for r in props["Roles"]}, actions, json.dumps(statement["Resource"])))
    assert len(grants) == len(names), grants
    assert set().union(*(roles for roles, _, _ in grants)) == pushers
    for roles, actions, resource in grants:
        assert len(roles) == 1 and actions == ["execute-api:ManageConnections"]
        assert api_id in resource and resource.endswith(f'"/{stage}/POST/@connections/*"]]}}')
        assert '"*"' not in resource


def test_the_function_knows_its_urls_and_runs_in_the_vpc(dev: Synth) -> None:
    _, fn = _realtime_function(dev)
    env = fn["Environment"]["Variables"]
    ws, callback = json.dumps(env["REALTIME_WS_URL"]), json.dumps(env["REALTIME_MANAGEMENT_URL"])
    assert ws.startswith('{"Fn::Join": ["", ["wss://"') and "/dev" in ws
    assert callback.startswith('{"Fn::Join": ["", ["https://"') and "/dev" in callback
    assert fn["VpcConfig"]["SubnetIds"]  # the database; the route response needs no way out


def _processing(synth: Synth, type_: str) -> dict[str, dict[str, Any]]:
    template = synth.assembly.get_stack_by_name(synth.stack_name("processing")).template
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def test_room_events_reach_the_fanout_through_a_fifo_queue(dev: Synth) -> None:
    """core.routes declares it (QueueSpec room_events): FIFO queue and DLQ, the event source with
    partial batch responses, rooms and the fan-out as producers, and the Management API's URL."""
    queues = {
        q["Properties"]["QueueName"]: (k, q["Properties"]) for k, q in _processing(dev, "AWS::SQS::Queue").items()
    }
    dlq_id, dlq = queues["social-dev-room_events-dlq.fifo"]
    _, queue = queues["social-dev-room_events.fifo"]
    assert queue["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    fanout_id, fanout = _realtime_function(dev, "fanout")
    assert fanout["VpcConfig"]["SubnetIds"]  # the database
    assert "REALTIME_MANAGEMENT_URL" in fanout["Environment"]["Variables"]
    (mapping,) = [
        m["Properties"]
        for m in dev.resources("api", "AWS::Lambda::EventSourceMapping").values()
        if invoked_function(dev.raw["api"]["Resources"], m["Properties"]["FunctionName"]) == fanout_id
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "MaximumBatchingWindowInSeconds" not in mapping and "RoomEventsQueue" in json.dumps(
        mapping["EventSourceArn"]
    )
    for name in ("rooms", "fanout"):
        env = _realtime_function(dev, name)[1]["Environment"]["Variables"]
        assert "RoomEventsQueue" in json.dumps(env["ROOM_EVENTS_QUEUE_URL"])
    alarms = {a["Properties"]["AlarmName"] for a in _processing(dev, "AWS::CloudWatch::Alarm").values()}
    assert "social-dev-realtime-dlq-not-empty" in alarms
