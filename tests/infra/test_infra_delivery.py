"""Safe delivery (issue 21): the stage's budget alerting the alarm topic, feature flags in AppConfig
read by rooms with access to that one profile only, and every API, authorizer and event function
called through its `live` alias, shifted by a CodeDeploy canary with rollback in staging and prod."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth

from bench.cost import idle_lines
from core import flags
from core.routes import FUNCTIONS
from infra_cdk.config import stage_config
from infra_cdk.constructs.canary import latency_threshold_ms
from infra_cdk.constructs.flags import MAX_AGE_S, PROFILE_NAME
from infra_cdk.constructs.function_factory import ALIAS_KINDS, LIVE_ALIAS
from infra_cdk.stacks.monitoring import BUDGET_ACTUAL_PERCENT, BUDGET_FORECAST_PERCENT

pytestmark = pytest.mark.infra


def _one(synth: Synth, part: str, type_: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = synth.resources(part, type_).items()
    return logical_id, resource["Properties"]


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["PolicyDocument" if "PolicyDocument" in policy else "KeyPolicy"]["Statement"])


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_budget_alerts_the_alarm_topic_at_80_forecast_and_100_actual(stage: str, dev: Synth, prod: Synth) -> None:
    synth = {"dev": dev, "prod": prod}[stage]
    topic_id, _ = _one(synth, "monitoring", "AWS::SNS::Topic")
    _, budget = _one(synth, "monitoring", "AWS::Budgets::Budget")
    data = budget["Budget"]
    assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
    assert data["BudgetLimit"] == {"Amount": stage_config(stage).monthly_budget_usd, "Unit": "USD"}
    assert data["CostFilters"] == {"TagKeyValue": [f"user:stage${stage}"]}
    alerts = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"], n["Notification"]["ThresholdType"])
        for n in budget["NotificationsWithSubscribers"]
    }
    assert alerts == {
        ("FORECASTED", BUDGET_FORECAST_PERCENT, "PERCENTAGE"),
        ("ACTUAL", BUDGET_ACTUAL_PERCENT, "PERCENTAGE"),
    }
    assert BUDGET_FORECAST_PERCENT == 80 and BUDGET_ACTUAL_PERCENT == 100
    for notification in budget["NotificationsWithSubscribers"]:
        assert notification["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}]


def test_only_budgets_of_this_account_may_publish_to_the_topic_and_use_its_key(dev: Synth) -> None:
    _, topic_policy = _one(dev, "monitoring", "AWS::SNS::TopicPolicy")
    (publish,) = [s for s in _statements(topic_policy) if s.get("Principal") == {"Service": "budgets.amazonaws.com"}]
    assert (publish["Effect"], publish["Action"]) == ("Allow", "SNS:Publish")
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "budgets::" in json.dumps(publish["Condition"]["ArnLike"]["aws:SourceArn"])
    _, key = _one(dev, "monitoring", "AWS::KMS::Key")
    (use,) = [s for s in _statements(key) if s.get("Principal") == {"Service": "budgets.amazonaws.com"}]
    assert sorted(use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert use["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # The budget is created after the policy that lets it publish.
    (budget_id, budget) = next(iter(dev.resources("monitoring", "AWS::Budgets::Budget").items()))
    (policy_id,) = dev.resources("monitoring", "AWS::SNS::TopicPolicy")
    assert policy_id in budget.get("DependsOn", []), budget_id


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_default_budget_is_above_the_idle_cost(stage: str, dev: Synth, prod: Synth) -> None:
    """make cost's idle figure plus headroom: a budget under the idle cost would alert every month."""
    synth = {"dev": dev, "prod": prod}[stage]
    idle = sum(usd for _, usd, _ in idle_lines(list(synth.raw.values())))
    assert stage_config(stage).monthly_budget_usd >= 1.2 * idle, (stage, idle)


def test_feature_flags_profile_holds_the_baseline_deployed_without_bake(dev: Synth) -> None:
    _, profile = _one(dev, "api", "AWS::AppConfig::ConfigurationProfile")
    assert (profile["Name"], profile["LocationUri"], profile["Type"]) == (PROFILE_NAME, "hosted", "AWS.Freeform")
    _, version = _one(dev, "api", "AWS::AppConfig::HostedConfigurationVersion")
    assert json.loads(version["Content"]) == flags.BASELINE
    assert version["ContentType"] == "application/json"
    _, environment = _one(dev, "api", "AWS::AppConfig::Environment")
    assert environment["Name"] == "dev"
    strategy_id, strategy = _one(dev, "api", "AWS::AppConfig::DeploymentStrategy")
    assert (strategy["DeploymentDurationInMinutes"], strategy["FinalBakeTimeInMinutes"]) == (0, 0)
    assert strategy["GrowthFactor"] == 100
    _, deployment = _one(dev, "api", "AWS::AppConfig::Deployment")
    assert deployment["DeploymentStrategyId"] == {"Ref": strategy_id}


def _rooms(synth: Synth) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, r["Properties"])
        for logical_id, r in synth.resources("api", "AWS::Lambda::Function").items()
        if r["Properties"].get("FunctionName") == f"social-{synth.stage}-rooms"
    ]
    return found


def test_rooms_reads_the_flags_where_it_can_reach_appconfig(prod: Synth) -> None:
    profile_id, _ = _one(prod, "api", "AWS::AppConfig::ConfigurationProfile")
    environment_id, _ = _one(prod, "api", "AWS::AppConfig::Environment")
    application_id, _ = _one(prod, "api", "AWS::AppConfig::Application")
    _, rooms = _rooms(prod)
    env = rooms["Environment"]["Variables"]
    assert env["APPCONFIG_PROFILE"] == {"Ref": profile_id}
    assert env["APPCONFIG_ENVIRONMENT"] == {"Ref": environment_id}
    assert env["APPCONFIG_APPLICATION"] == {"Ref": application_id}
    assert env["FEATURE_FLAGS_MAX_AGE_S"] == str(MAX_AGE_S)
    # The data plane through the stage's endpoint (the functions run in isolated subnets).
    endpoints = [
        json.dumps(e["Properties"]["ServiceName"]) for e in prod.resources("network", "AWS::EC2::VPCEndpoint").values()
    ]
    assert any("appconfigdata" in name for name in endpoints)


def test_appconfig_access_is_the_two_data_plane_actions_on_the_one_profile(prod: Synth) -> None:
    profile_id, _ = _one(prod, "api", "AWS::AppConfig::ConfigurationProfile")
    grants = [
        (policy["Roles"], s)
        for policy in (r["Properties"] for r in prod.resources("api", "AWS::IAM::Policy").values())
        for s in policy["PolicyDocument"]["Statement"]
        if "appconfig" in json.dumps(s["Action"])
    ]
    readers = []
    for roles, statement in grants:  # rooms (the API's check) and the ai_worker (queued jobs)
        assert sorted(statement["Action"]) == [
            "appconfig:GetLatestConfiguration",
            "appconfig:StartConfigurationSession",
        ]
        resource = json.dumps(statement["Resource"])
        assert f'{{"Ref": "{profile_id}"}}' in resource and "/configuration/" in resource and "*" not in resource
        (role,) = roles
        readers.append(role["Ref"])
    assert len(readers) == 2
    assert any("Rooms" in r for r in readers) and any("AiWorker" in r for r in readers)


def test_dev_without_endpoints_reads_the_flags_over_ipv6(dev: Synth) -> None:
    """rooms (egress="ipv6") reaches AppConfig's dual-stack data endpoint: flags flip in dev too."""
    _, rooms = _rooms(dev)
    env = rooms["Environment"]["Variables"]
    assert env["AWS_ENDPOINT_URL_APPCONFIGDATA"] == {
        "Fn::Join": ["", ["https://appconfigdata.", {"Ref": "AWS::Region"}, ".api.aws"]]
    }
    assert {"APPCONFIG_PROFILE", "APPCONFIG_ENVIRONMENT", "APPCONFIG_APPLICATION"} <= env.keys()
    endpoints = [e["Properties"]["VpcEndpointType"] for e in dev.resources("network", "AWS::EC2::VPCEndpoint").values()]
    assert endpoints == ["Gateway"]


# --- canary deployments -------------------------------------------------------------------------

LIVE_FUNCTIONS = [spec for spec in FUNCTIONS if spec.kind in ALIAS_KINDS]


def _by_function(synth: Synth) -> dict[str, str]:
    """Function logical id -> its catalog name."""
    return {
        logical_id: r["Properties"]["FunctionName"].removeprefix(f"social-{synth.stage}-")
        for logical_id, r in synth.resources("api", "AWS::Lambda::Function").items()
        if str(r["Properties"].get("FunctionName", "")).startswith(f"social-{synth.stage}-")
    }


def _aliases(synth: Synth) -> dict[str, tuple[str, dict[str, Any]]]:
    """Catalog name -> (alias logical id, alias resource)."""
    names = _by_function(synth)
    return {
        names[r["Properties"]["FunctionName"]["Ref"]]: (logical_id, r)
        for logical_id, r in synth.resources("api", "AWS::Lambda::Alias").items()
    }


def test_every_api_authorizer_and_event_function_has_a_live_alias_in_every_stage(
    dev: Synth, staging: Synth, prod: Synth
) -> None:
    assert {s.kind for s in LIVE_FUNCTIONS} == {"api", "authorizer", "events", "invoked"}
    for synth in (dev, staging, prod):
        aliases = _aliases(synth)
        assert sorted(aliases) == sorted(s.name for s in LIVE_FUNCTIONS), synth.stage
        for name, (_, alias) in aliases.items():
            assert alias["Properties"]["Name"] == LIVE_ALIAS
            assert "CurrentVersion" in alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0], name
            # Migrations run before any alias moves to a new version.
            assert any("MigrateOnDeploy" in d for d in alias.get("DependsOn", [])), name


def test_event_source_mappings_and_api_integrations_invoke_the_alias(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        aliases = {logical_id for logical_id, _ in _aliases(synth).values()}
        mappings = synth.resources("api", "AWS::Lambda::EventSourceMapping").values()
        assert len(mappings) == len([s for s in FUNCTIONS if s.queue is not None])
        for mapping in mappings:
            target = json.dumps(mapping["Properties"]["FunctionName"])
            assert ":live" in target and any(a in target for a in aliases), target
        for method in synth.resources("api", "AWS::ApiGateway::Method").values():
            integration = method["Properties"].get("Integration", {})
            if integration.get("Type") == "AWS_PROXY":
                uri = json.dumps(integration["Uri"])
                assert any(a in uri for a in aliases), uri
        (authorizer,) = synth.resources("api", "AWS::ApiGateway::Authorizer").values()
        assert any(a in json.dumps(authorizer["Properties"]["AuthorizerUri"]) for a in aliases)


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_staging_and_prod_shift_every_alias_by_canary_with_rollback_on_its_alarm(
    stage: str, staging: Synth, prod: Synth
) -> None:
    synth = {"staging": staging, "prod": prod}[stage]
    config = stage_config(stage)
    assert config.canary_deployments
    groups = synth.resources("api", "AWS::CodeDeploy::DeploymentGroup")
    alarms = synth.resources("api", "AWS::CloudWatch::Alarm")
    (application_id,) = synth.resources("api", "AWS::CodeDeploy::Application")
    assert len(groups) == len(LIVE_FUNCTIONS)
    for spec in LIVE_FUNCTIONS:
        _, alias = _aliases(synth)[spec.name]
        update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        assert update["ApplicationName"] == {"Ref": application_id}
        group = groups[update["DeploymentGroupName"]["Ref"]]["Properties"]
        assert group["DeploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        assert group["DeploymentStyle"] == {
            "DeploymentOption": "WITH_TRAFFIC_CONTROL",
            "DeploymentType": "BLUE_GREEN",
        }
        rollback = group["AutoRollbackConfiguration"]
        assert rollback["Enabled"] and {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(rollback["Events"])
        assert group["AlarmConfiguration"]["Enabled"]
        (watched,) = group["AlarmConfiguration"]["Alarms"]
        (alarm_id,) = [k for k, a in alarms.items() if {"Ref": k} == watched["Name"]]
        assert alarm_id in alias["DependsOn"]  # watching the new version before the shift starts
        alarm = alarms[alarm_id]["Properties"]
        stats = {
            q["MetricStat"]["Metric"]["MetricName"]: q["MetricStat"] for q in alarm["Metrics"] if "MetricStat" in q
        }
        assert set(stats) == {"Errors", "Duration"}, spec.name
        assert (stats["Errors"]["Stat"], stats["Duration"]["Stat"]) == ("Sum", "p99")
        for stat in stats.values():
            dims = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
            assert dims["FunctionName"] == f"social-{stage}-{spec.name}"
            assert dims["Resource"] == f"social-{stage}-{spec.name}:{LIVE_ALIAS}"
            assert dims["ExecutedVersion"] == alias["Properties"]["FunctionVersion"]  # the new version only
            assert stat["Period"] == 60
        (expression,) = [q["Expression"] for q in alarm["Metrics"] if "Expression" in q]
        assert f"p99 > {latency_threshold_ms(config, spec)}" in expression and "errors >= 1" in expression
        assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (1, 1, "notBreaching")


def test_dev_moves_its_aliases_all_at_once(dev: Synth) -> None:
    assert not stage_config("dev").canary_deployments
    assert dev.resources("api", "AWS::CodeDeploy::DeploymentGroup") == {}
    assert dev.resources("api", "AWS::CodeDeploy::Application") == {}
    assert not any(
        "canary" in a["Properties"]["AlarmName"] for a in dev.resources("api", "AWS::CloudWatch::Alarm").values()
    )
    for _, alias in _aliases(dev).values():
        assert "UpdatePolicy" not in alias


def test_the_api_stack_keeps_room_under_cloudformations_500_resources(staging: Synth, prod: Synth) -> None:
    for synth in (staging, prod):
        assert len(synth.raw["api"]["Resources"]) <= 480, "split the api stack before it reaches 500"
