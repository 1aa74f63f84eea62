"""Where each function runs and how it reaches what it needs (docs/decisions.md "Where each
function runs"), on the synthesized templates of dev and prod:

- the VPC is dual-stack; its isolated subnets route ::/0, and only ::/0, to an egress-only
  internet gateway: no NAT gateway, no internet gateway, no IPv4 route out, in any stage;
- a function in the VPC with `egress="ipv6"` runs dual-stack (Ipv6AllowedForDualStack) with a
  group that allows HTTPS out over IPv6 only; where the stage has no SQS endpoint (dev) its SQS
  clients use SQS's dual-stack endpoint; every other function stays on IPv4 and endpoints;
- the WebSocket API is dual-stack, so the pushers reach its @connections over IPv6;
- the AI worker runs outside the VPC and gets the configured provider in every stage, ConverseStream
  on the one model, its queue's DLQ and alarm, pushes the deltas itself and may invoke one thing:
  the `live` alias of `ai_steps`, its database steps, in the VPC with IPv6 egress.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth

from core.routes import FUNCTIONS, FunctionSpec, function

pytestmark = pytest.mark.infra


def _template(synth: Synth, part: str) -> dict[str, Any]:
    return dict(synth.assembly.get_stack_by_name(synth.stack_name(part)).template)


def _of_type(synth: Synth, part: str, type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in _template(synth, part)["Resources"].items() if r["Type"] == type_}


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    prefix = f"social-{synth.stage}-"
    return {
        fn["Properties"]["FunctionName"].removeprefix(prefix): fn["Properties"]
        for fn in _of_type(synth, "api", "AWS::Lambda::Function").values()
        if isinstance(fn["Properties"].get("FunctionName"), str) and fn["Properties"]["FunctionName"].startswith(prefix)
    }


def _group_id(synth: Synth, description_start: str) -> str:
    (found,) = [
        k
        for k, r in _of_type(synth, "network", "AWS::EC2::SecurityGroup").items()
        if r["Properties"]["GroupDescription"].startswith(description_start)
    ]
    return found


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_only_way_out_is_ipv6_through_the_egress_only_gateway(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    network = _template(synth, "network")["Resources"]
    types = {r["Type"] for r in network.values()}
    assert not types & {"AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"}
    assert not types & {"AWS::EC2::VPCGatewayAttachment", "AWS::EC2::Instance"}
    (cidr,) = _of_type(synth, "network", "AWS::EC2::VPCCidrBlock").values()
    assert cidr["Properties"]["AmazonProvidedIpv6CidrBlock"] is True
    subnets = _of_type(synth, "network", "AWS::EC2::Subnet")
    assert len(subnets) == 2 and all("Ipv6CidrBlock" in s["Properties"] for s in subnets.values())
    (gateway_id,) = _of_type(synth, "network", "AWS::EC2::EgressOnlyInternetGateway")
    routes = [r["Properties"] for r in _of_type(synth, "network", "AWS::EC2::Route").values()]
    assert routes and all(
        set(r) == {"RouteTableId", "DestinationIpv6CidrBlock", "EgressOnlyInternetGatewayId"} for r in routes
    )
    assert all(r["DestinationIpv6CidrBlock"] == "::/0" for r in routes)
    assert all(r["EgressOnlyInternetGatewayId"] == {"Fn::GetAtt": [gateway_id, "Id"]} for r in routes)
    # one per isolated subnet's route table, and those are every route table there is
    tables = set(_of_type(synth, "network", "AWS::EC2::RouteTable"))
    assert {r["RouteTableId"]["Ref"] for r in routes} == tables and len(routes) == len(tables)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_ipv6_egress_group_allows_https_out_over_ipv6_only(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    group = _of_type(synth, "network", "AWS::EC2::SecurityGroup")[_group_id(synth, "Functions that reach")]
    props = group["Properties"]
    assert "SecurityGroupIngress" not in props
    # CDK's placeholder for "no IPv4 egress" (an ICMP rule to 255.255.255.255/32 that matches nothing)
    placeholder = {
        "CidrIp": "255.255.255.255/32",
        "Description": "Disallow all traffic",
        "FromPort": 252,
        "IpProtocol": "icmp",
        "ToPort": 86,
    }
    assert [r for r in props["SecurityGroupEgress"] if r != placeholder] == [
        {
            "CidrIpv6": "::/0",
            "Description": "HTTPS to dual-stack endpoints",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_function_runs_where_its_declaration_says(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    functions = _functions(synth)
    ipv6_group = _group_id(synth, "Functions that reach")
    assert {spec.name for spec in FUNCTIONS} <= set(functions)
    for spec in FUNCTIONS:
        props = functions[spec.name]
        env = props["Environment"]["Variables"]
        if not spec.uses_db:
            assert "VpcConfig" not in props, spec.name  # outside the VPC: the internet, no database
            assert "AWS_ENDPOINT_URL_SQS" not in env
            continue
        vpc = props["VpcConfig"]
        groups = json.dumps(vpc["SecurityGroupIds"])
        assert len(vpc["SubnetIds"]) == 2, spec.name
        dual = spec.egress == "ipv6"
        assert vpc.get("Ipv6AllowedForDualStack", False) is dual, spec.name
        assert (ipv6_group in groups) is dual, spec.name
        # SQS over IPv6 only where there is no SQS interface endpoint (dev), never anything else
        sqs = env.get("AWS_ENDPOINT_URL_SQS")
        if dual and stage == "dev":
            assert sqs == {"Fn::Join": ["", ["https://sqs.", {"Ref": "AWS::Region"}, ".api.aws"]]}, spec.name
        else:
            assert sqs is None, spec.name
        # any other service endpoint is a dual-stack one, for an IPv6 function of a stage without endpoints
        for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL_") and k != "AWS_ENDPOINT_URL_SQS"]:
            assert dual and stage == "dev", (spec.name, key)
            service = key.removeprefix("AWS_ENDPOINT_URL_").lower()
            assert env[key] == {"Fn::Join": ["", [f"https://{service}.", {"Ref": "AWS::Region"}, ".api.aws"]]}
        assert "AWS_ENDPOINT_URL" not in env
        assert "AWS_USE_DUALSTACK_ENDPOINT" not in env  # S3 keeps its gateway endpoint


def test_the_pushers_and_the_sqs_producers_in_the_vpc_have_ipv6_egress() -> None:
    """Every function in the VPC that posts to connections or sends to a queue can get out."""
    producers = {p for spec in FUNCTIONS if spec.queue is not None for p in spec.queue.producers}
    by_name = {spec.name: spec for spec in FUNCTIONS}
    for spec in FUNCTIONS:
        if spec.uses_db and (spec.pushes or spec.name in producers):
            assert spec.egress == "ipv6", spec.name
    assert {name for name, spec in by_name.items() if spec.pushes} >= {"realtime", "fanout"}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_websocket_api_is_dual_stack(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    (api,) = _of_type(synth, "api", "AWS::ApiGatewayV2::Api").values()
    assert api["Properties"]["IpAddressType"] == "dualstack"


def test_the_ai_worker_runs_outside_the_vpc_and_its_steps_inside() -> None:
    worker, steps = function("ai_worker"), function("ai_steps")
    assert (worker.uses_db, worker.calls_ai, worker.pushes, worker.invokes) == (False, True, True, ("ai_steps",))
    assert (steps.uses_db, steps.egress, steps.kind, steps.calls_ai, steps.pushes) == (
        True,
        "ipv6",
        "invoked",
        False,
        False,
    )
    assert not [spec.name for spec in FUNCTIONS if spec.calls_ai and spec.uses_db]  # no provider call from the VPC


def _statements(synth: Synth, fn: dict[str, Any]) -> list[dict[str, Any]]:
    role_id = fn["Role"]["Fn::GetAtt"][0]
    return [
        s
        for p in _of_type(synth, "api", "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _logical_id(synth: Synth, type_: str, name_key: str, name: str) -> str:
    (found,) = [k for k, r in _of_type(synth, "api", type_).items() if r["Properties"].get(name_key) == name]
    return found


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_ai_worker_outside_the_vpc_streams_from_the_configured_provider(
    stage: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(stage)
    worker = _functions(synth)["ai_worker"]
    assert "VpcConfig" not in worker
    env = worker["Environment"]["Variables"]
    assert env["ROOMS_AI_PROVIDER"] == "bedrock"  # dev too: Bedrock's public endpoint is reachable
    assert "AWS_ENDPOINT_URL_SQS" not in env and "DB_HOST" not in env
    assert worker["Timeout"] == 120 and worker["MemorySize"] == 512
    statements = _statements(synth, worker)
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "bedrock:InvokeModelWithResponseStream" in actions and "bedrock:InvokeModel" not in actions
    assert not [a for a in actions if a.startswith(("ec2:", "rds-db:", "sqs:Send"))]
    # it pushes the deltas itself: this API's stage only
    (pushes,) = [s for s in statements if s["Action"] == "execute-api:ManageConnections"]
    assert json.dumps(pushes["Resource"]).endswith(f'"/{stage}/POST/@connections/*"]]}}')
    assert "REALTIME_MANAGEMENT_URL" in env
    # and has its database steps done by the one thing it may invoke: the live alias of ai_steps
    steps_id = _logical_id(synth, "AWS::Lambda::Function", "FunctionName", f"social-{stage}-ai_steps")
    aliases = {
        k: a["Properties"]
        for k, a in _of_type(synth, "api", "AWS::Lambda::Alias").items()
        if a["Properties"]["FunctionName"] == {"Ref": steps_id}
    }
    assert len(aliases) == 1
    ((alias_id, alias),) = aliases.items()
    assert alias["Name"] == "live"
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    assert invoke["Action"] == "lambda:InvokeFunction" and invoke["Resource"] == {"Ref": alias_id}  # the alias ARN
    assert env["AI_STEPS_FUNCTION_NAME"] == {"Ref": alias_id}
    assert "lambda:" not in json.dumps([s for s in statements if s is not invoke])
    # its queue, DLQ with redrive and DLQ alarm come from its declaration
    queues = {
        q["Properties"]["QueueName"]: (k, q["Properties"])
        for k, q in _of_type(synth, "processing", "AWS::SQS::Queue").items()
    }
    dlq_id, _ = queues[f"social-{stage}-ai_replies-dlq"]
    _, queue = queues[f"social-{stage}-ai_replies"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert queue["VisibilityTimeout"] == 720


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_ai_steps_run_in_the_vpc_with_the_database_and_no_provider(
    stage: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(stage)
    steps = _functions(synth)["ai_steps"]
    assert steps["VpcConfig"]["Ipv6AllowedForDualStack"] is True
    env = steps["Environment"]["Variables"]
    assert "DB_HOST" in env and "ROOM_EVENTS_QUEUE_URL" in env  # message.completed's nudge
    assert "ROOMS_AI_PROVIDER" not in env and "REALTIME_MANAGEMENT_URL" not in env
    assert (steps["MemorySize"], steps["Timeout"]) == (512, 10)
    actions = json.dumps([s["Action"] for s in _statements(synth, steps)])
    assert "bedrock:" not in actions and "execute-api:" not in actions and "lambda:Invoke" not in actions


def test_an_egress_declaration_outside_the_vpc_or_a_pusher_without_one_is_refused() -> None:
    with pytest.raises(ValueError, match="egress is for functions in the VPC"):
        FunctionSpec("x", "api", "x", uses_db=False, egress="ipv6")
    with pytest.raises(ValueError, match='takes egress="ipv6"'):
        FunctionSpec("x", "api", "x", pushes=True)
    assert FunctionSpec("x", "api", "x", uses_db=False, pushes=True).egress == "none"
    with pytest.raises(ValueError, match="invoking other functions is for functions outside the VPC"):
        FunctionSpec("x", "api", "x", invokes=("y",))
