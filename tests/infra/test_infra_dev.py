"""The dev stage, synthesized once: route table -> API, function catalog -> Lambda, network,
database, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import PARTS, Synth

from core.routes import FUNCTIONS, ROUTES
from infra_cdk.constructs.rest_api import GATEWAY_RESPONSES

pytestmark = pytest.mark.infra


def _ref(value: Any) -> str | None:
    """Logical id behind {"Ref": id} or {"Fn::GetAtt": [id, ...]}."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def _resource_paths(dev: Synth) -> dict[str, str]:
    """Logical id of each API Gateway resource -> its full path."""
    resources = dev.resources("api", "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            props = resources[logical_id]["Properties"]
            parent = _ref(props["ParentId"])
            prefix = path_of(parent) if parent is not None and parent in resources else ""
            paths[logical_id] = f"{prefix}/{props['PathPart']}"
        return paths[logical_id]

    for logical_id in resources:
        path_of(logical_id)
    return paths


def _function_names(dev: Synth) -> dict[str, str]:
    """Logical id -> catalog name, for the functions of the catalog."""
    prefix = f"social-{dev.stage}-"
    out = {}
    for logical_id, fn in dev.resources("api", "AWS::Lambda::Function").items():
        name = fn["Properties"].get("FunctionName", "")
        if isinstance(name, str) and name.startswith(prefix):
            out[logical_id] = name.removeprefix(prefix)
    return out


def _alias_functions(dev: Synth) -> dict[str, str]:
    """Logical id of each `live` alias -> catalog name of its function."""
    functions = _function_names(dev)
    out = {}
    for logical_id, alias in dev.resources("api", "AWS::Lambda::Alias").items():
        assert alias["Properties"]["Name"] == "live"
        out[logical_id] = functions[_ref(alias["Properties"]["FunctionName"]) or ""]
    return out


def _methods(dev: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _resource_paths(dev)
    out = {}
    for method in dev.resources("api", "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        out[(props["HttpMethod"], paths.get(_ref(props["ResourceId"]) or "", "/"))] = props
    return out


def test_every_route_is_a_method_on_its_function_and_nothing_else(dev: Synth) -> None:
    methods = _methods(dev)
    # SnapStart: API Gateway invokes the published version behind each function's `live` alias.
    functions = _alias_functions(dev)
    served = {key for key in methods if key[0] not in ("OPTIONS", "ANY")}
    assert served == {(r.method, r.path) for r in ROUTES}
    for route in ROUTES:
        props = methods[(route.method, route.path)]
        integration = props["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        uri_refs = [_ref(part) for part in json.loads(json.dumps(integration["Uri"]))["Fn::Join"][1]]
        assert route.function in {functions.get(ref or "") for ref in uri_refs}, route
        assert (props["AuthorizationType"] == "CUSTOM") is route.auth, route
        if route.auth:
            assert "AuthorizerId" in props
    # Preflight on every routed path, nothing catch-all.
    assert {path for (_, path) in served} == {path for (verb, path) in methods if verb == "OPTIONS"}
    assert not any("{proxy+}" in path for (_, path) in methods)


def test_every_routed_path_answers_405_with_allow_for_other_methods(dev: Synth) -> None:
    """The ANY method of each resource: a mock 405 in the envelope, `Allow` naming what it serves."""
    methods = _methods(dev)
    by_path: dict[str, set[str]] = {}
    for route in ROUTES:
        by_path.setdefault(route.path, set()).add(route.method)
    for path, verbs in by_path.items():
        props = methods[("ANY", path)]
        assert props["AuthorizationType"] == "NONE"
        integration = props["Integration"]
        assert integration["Type"] == "MOCK" and integration["PassthroughBehavior"] == "NEVER"
        (answer,) = integration["IntegrationResponses"]
        assert answer["StatusCode"] == "405" and "SelectionPattern" not in answer
        headers = answer["ResponseParameters"]
        assert headers["method.response.header.Allow"] == "'" + ", ".join(sorted(verbs | {"OPTIONS"})) + "'"
        assert headers["method.response.header.X-Content-Type-Options"] == "'nosniff'"
        body = answer["ResponseTemplates"]["application/json"]
        assert json.loads(body.replace("$context.requestId", "r1"))["error"]["code"] == "method_not_allowed"
        assert {r["StatusCode"] for r in props["MethodResponses"]} == {"405"}


def test_every_catalog_function_is_python312_arm64_with_both_layers(dev: Synth) -> None:
    functions = dev.resources("api", "AWS::Lambda::Function")
    by_name = {name: functions[lid]["Properties"] for lid, name in _function_names(dev).items()}
    assert set(by_name) == {spec.name for spec in FUNCTIONS}
    for spec in FUNCTIONS:
        props = by_name[spec.name]
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["arm64"]
        assert props["Handler"] == f"{spec.name}.handler.handler"
        # deps + core; a database function of a stage without the proxy also has the RDS CA layer.
        assert len(props["Layers"]) == (3 if spec.uses_db else 2)
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        env = props["Environment"]["Variables"]
        assert env["STAGE"] == "dev"
        assert env["POWERTOOLS_SERVICE_NAME"] == spec.name
        assert env["PYDANTIC_DISABLE_PLUGINS"] == "__all__"  # infra_cdk.lambda_env: no plugin scan on first model
        assert env["CORS_ALLOWED_ORIGINS"].startswith("https://")
        if spec.uses_db:
            assert "VpcConfig" in props
            assert {k: env[k] for k in ("DB_PORT", "DB_NAME", "DB_USER", "DB_IAM_AUTH")} == {
                "DB_PORT": "5432",
                "DB_NAME": "app",
                # the migrations run as the owner (the master user); every other function as the app's role
                "DB_USER": "app" if spec.name == "migrate" else "app_rw",
                "DB_IAM_AUTH": "true",
            }
            assert "DB_HOST" in env
        expected = (1024, 300) if spec.kind == "task" else (512, 10) if spec.kind == "api" else None
        if expected:
            assert (props["MemorySize"], props["Timeout"]) == expected, spec.name


def test_function_logs_are_kept_30_days(dev: Synth) -> None:
    groups = {
        g["Properties"].get("LogGroupName"): g["Properties"].get("RetentionInDays")
        for g in dev.resources("api", "AWS::Logs::LogGroup").values()
    }
    for spec in FUNCTIONS:
        assert groups[f"/aws/lambda/social-dev-{spec.name}"] == 30


def test_db_functions_may_connect_as_their_own_user_only(dev: Synth, prod: Synth) -> None:
    """rds-db:connect for DB_USER's user alone: the master user (`app`) for migrate, `app_rw` for the rest,
    through the proxy (prod) or to the cluster (dev)."""
    for synth in (dev, prod):
        policies = synth.resources("api", "AWS::IAM::Policy")
        users: dict[str, set[str]] = {}
        for lid, name in _function_names(synth).items():
            role = synth.resources("api", "AWS::Lambda::Function")[lid]["Properties"]["Role"]["Fn::GetAtt"][0]
            for policy in policies.values():
                if {"Ref": role} not in policy["Properties"]["Roles"]:
                    continue
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    if statement["Action"] == "rds-db:connect":
                        arn = json.dumps(statement["Resource"])
                        users.setdefault(name, set()).update(u for u in ('/app"', '/app_rw"') if u in arn)
        db_functions = {spec.name for spec in FUNCTIONS if spec.uses_db}
        assert set(users) == db_functions, synth.stage
        for name, user in users.items():
            assert user == ({'/app"'} if name == "migrate" else {'/app_rw"'}), (synth.stage, name)


@pytest.mark.skipif(not any(f.name == "authorizer" for f in FUNCTIONS), reason="no authorizer function yet")
def test_request_authorizer_reads_authorization_and_never_caches(dev: Synth) -> None:
    dev.templates["api"].has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "REQUEST",
            "IdentitySource": "method.request.header.Authorization",
            "AuthorizerResultTtlInSeconds": 0,
        },
    )


def test_gateway_responses_use_the_error_envelope(dev: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in dev.resources("api", "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {t.response_type for (t, *_rest) in GATEWAY_RESPONSES}
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert responses["THROTTLED"]["StatusCode"] == "429"
    failure = responses["AUTHORIZER_FAILURE"]  # the authorizer could not decide: a dependency is down
    assert failure["StatusCode"] == "503" and failure["ResponseParameters"]["gatewayresponse.header.Retry-After"]
    for props in responses.values():
        body = props["ResponseTemplates"]["application/json"]
        assert '"request_id":"$context.requestId"' in body and '"details":[]' in body
        headers = props["ResponseParameters"]
        assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
        assert "gatewayresponse.header.Strict-Transport-Security" in headers
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "'https://dev.example.com'"
    not_found = responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"]
    assert json.loads(not_found.replace("$context.requestId", "r1"))["error"]["code"] == "not_found"


def test_stage_logs_traces_throttles_and_has_a_waf(dev: Synth, prod: Synth) -> None:
    (stage,) = dev.resources("api", "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "dev"
    assert props["TracingEnabled"] is True
    assert props["MethodSettings"] == [
        {
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "LoggingLevel": "ERROR",
            "DataTraceEnabled": False,
            "MetricsEnabled": True,
            "ThrottlingRateLimit": 50,
            "ThrottlingBurstLimit": 100,
        }
    ]
    access_log = json.loads(props["AccessLogSetting"]["Format"])
    assert access_log["requestId"] == "$context.requestId"
    assert access_log["status"] == "$context.status"
    api = dev.templates["api"]
    api.resource_count_is("AWS::ApiGateway::Account", 1)
    # dev: no web ACL (stage setting waf=false, to cost nothing idle); staging and prod have one.
    api.resource_count_is("AWS::WAFv2::WebACL", 0)
    prod.templates["api"].resource_count_is("AWS::WAFv2::WebACLAssociation", 1)
    (acl,) = prod.resources("api", "AWS::WAFv2::WebACL").values()
    assert {"RatePerIp", "AWSManagedRulesCommonRuleSet"} <= {r["Name"] for r in acl["Properties"]["Rules"]}


def test_migrations_run_on_deploy_before_the_api_functions(dev: Synth) -> None:
    triggers = dev.resources("api", "Custom::Trigger")
    assert len(triggers) == 1
    ((trigger_id, trigger),) = triggers.items()
    functions = dev.resources("api", "AWS::Lambda::Function")
    names = _function_names(dev)
    version = dev.raw["api"]["Resources"][_ref(trigger["Properties"]["HandlerArn"]) or ""]
    assert names[_ref(version["Properties"]["FunctionName"]) or ""] == "migrate"
    for logical_id, name in names.items():
        if name != "migrate":
            assert trigger_id in functions[logical_id].get("DependsOn", []), name


def test_network_is_isolated_without_nat(dev: Synth, prod: Synth) -> None:
    for part in PARTS:
        dev.templates[part].resource_count_is("AWS::EC2::NatGateway", 0)
        dev.templates[part].resource_count_is("AWS::EC2::InternetGateway", 0)
    net = dev.templates["network"]
    net.resource_count_is("AWS::EC2::FlowLog", 1)
    services = json.dumps(
        [e["Properties"]["ServiceName"] for e in prod.resources("network", "AWS::EC2::VPCEndpoint").values()]
    )
    for service in (".s3", ".secretsmanager", ".sqs", ".logs"):
        assert service in services
    assert "bedrock" not in services  # only the AI worker calls a provider, from outside the VPC
    # dev: the free S3 gateway endpoint only (stage setting interfaceEndpoints=false).
    (only,) = dev.resources("network", "AWS::EC2::VPCEndpoint").values()
    assert only["Properties"]["VpcEndpointType"] == "Gateway" and ".s3" in json.dumps(only["Properties"])
    for subnet in dev.resources("network", "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


def test_database_is_serverless_v2_with_iam_auth(dev: Synth, prod: Synth) -> None:
    # prod: behind an IAM + TLS proxy; dev has none (test_infra_dev_cost.py).
    prod.templates["data"].has_resource_properties(
        "AWS::RDS::DBProxy",
        {"RequireTLS": True, "EngineFamily": "POSTGRESQL", "Auth": [{"AuthScheme": "SECRETS", "IAMAuth": "REQUIRED"}]},
    )
    data = dev.templates["data"]
    data.resource_count_is("AWS::RDS::DBProxy", 0)
    data.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "StorageEncrypted": True,
            "BackupRetentionPeriod": 7,
            "DatabaseName": "app",
            "MasterUsername": "app",
            "EnableIAMDatabaseAuthentication": True,
            # dev pauses at 0 ACU after 10 idle minutes.
            "ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 600},
            "DeletionProtection": False,
        },
    )
    data.has_resource_properties("AWS::RDS::DBInstance", {"DBInstanceClass": "db.serverless"})
    # No rotation in dev (no Secrets Manager endpoint for the rotation function); prod rotates.
    data.resource_count_is("AWS::SecretsManager::RotationSchedule", 0)


def test_cdk_nag_reports_no_unacknowledged_findings(dev: Synth) -> None:
    # cdk-nag 3 reports through the validation framework, not annotations: synth() above
    # would have raised on an unacknowledged error; the report must hold no errors either.
    errors = dev.nag_errors()
    assert errors == []
    # No error annotations at all (what Annotations.from_stack(stack).find_error reads; with
    # cdk-nag 3 nag findings are not annotations, so this guards CDK's own errors).
    for part in PARTS:
        assert dev.metadata(part, "aws:cdk:error") == []


def test_every_acknowledgement_has_a_specific_reason(dev: Synth) -> None:
    reasons: dict[str, str] = {}
    for part in PARTS:
        for path, data in dev.metadata(part, "aws:cdk:acknowledged-rules"):
            for rule, reason in dict(data).items():
                reasons[f"{path} {rule}"] = reason
    assert reasons, "expected acknowledgements (L1, APIG4 ...) to be recorded"
    assert {k: r for k, r in reasons.items() if len(r.strip()) < 40} == {}


def test_templates_pass_cfn_lint(dev: Synth) -> None:
    from cfnlint.api import lint

    errors = []
    for part, template in dev.raw.items():
        for match in lint(json.dumps(template)):
            if match.rule.id.startswith("E"):
                errors.append(f"{part}: {match.rule.id} {match.message} at {'/'.join(map(str, match.path))}")
    assert errors == []
