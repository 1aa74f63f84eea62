"""Monitoring: every alarm goes to the encrypted topic; one dashboard; the DLQ alarm routed too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_synth import Synth

from core.routes import FUNCTIONS
from infra_cdk.config import stage_config
from infra_cdk.stacks.monitoring import proxy_pool_size

pytestmark = pytest.mark.infra


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in synth.resources("monitoring", "AWS::CloudWatch::Alarm").values()
    }


def _metric(alarm: dict[str, Any]) -> dict[str, Any]:
    """Namespace, MetricName, Dimensions, Stat of a one-metric alarm (plain or in Metrics form)."""
    if "Metrics" not in alarm:
        stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
        return {k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions") if k in alarm} | {"Stat": stat}
    (query,) = alarm["Metrics"]
    return dict(query["MetricStat"]["Metric"]) | {"Stat": query["MetricStat"]["Stat"]}


def _topic_id(synth: Synth) -> str:
    (topic_id,) = synth.resources("monitoring", "AWS::SNS::Topic")
    return topic_id


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(dev: Synth) -> None:
    monitoring = dev.templates["monitoring"]
    monitoring.has_resource_properties(
        "AWS::SNS::Topic", {"TopicName": "social-dev-alarms", "KmsMasterKeyId": Match.any_value()}
    )
    monitoring.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    (key,) = dev.resources("monitoring", "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
    # TLS only (cdk-nag SNS3).
    monitoring.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Deny"})])}},
    )


def test_every_alarm_is_routed_to_the_topic(dev: Synth) -> None:
    topic = _topic_id(dev)
    alarms = _alarms(dev)
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": topic}], name
        assert alarm["OKActions"] == [{"Ref": topic}], name
        assert "docs/operations.md#" in alarm["AlarmDescription"], name


def test_api_alarms_5xx_rate_and_p99_latency(dev: Synth) -> None:
    config = stage_config("dev")
    alarms = _alarms(dev)
    five = _metric(alarms["social-dev-api-5xx-rate"])
    assert (five["Namespace"], five["MetricName"], five["Stat"]) == ("AWS/ApiGateway", "5XXError", "Average")
    assert alarms["social-dev-api-5xx-rate"]["Threshold"] == config.api_5xx_rate_percent / 100
    assert {"Name": "ApiName", "Value": "social-dev-api"} in five["Dimensions"]
    assert {"Name": "Stage", "Value": "dev"} in five["Dimensions"]
    p99 = _metric(alarms["social-dev-api-p99-latency"])
    assert (p99["MetricName"], p99["Stat"]) == ("Latency", "p99")
    assert alarms["social-dev-api-p99-latency"]["Threshold"] == config.api_p99_latency_ms


def test_lambda_errors_and_throttles_per_function(prod: Synth) -> None:
    alarms = _alarms(prod)
    for spec in FUNCTIONS:
        for metric in ("errors", "throttles"):
            alarm = alarms[f"social-prod-{spec.name}-{metric}"]
            m = _metric(alarm)
            assert (m["Namespace"], m["MetricName"], m["Stat"]) == ("AWS/Lambda", metric.capitalize(), "Sum")
            assert m["Dimensions"] == [{"Name": "FunctionName", "Value": f"social-prod-{spec.name}"}]
            assert alarm["Threshold"] == 1
    assert "social-prod-functions-errors" not in alarms


def test_dev_alarms_on_the_account_wide_lambda_aggregates(dev: Synth) -> None:
    """dev trades naming the function for its budget: one errors and one throttles alarm in all."""
    alarms = _alarms(dev)
    assert not [name for name in alarms if name.endswith(("-errors", "-throttles")) and "functions-" not in name]
    for metric in ("errors", "throttles"):
        alarm = alarms[f"social-dev-functions-{metric}"]
        m = _metric(alarm)
        assert (m["Namespace"], m["MetricName"], m["Stat"]) == ("AWS/Lambda", metric.capitalize(), "Sum")
        assert not m.get("Dimensions")
        assert alarm["Threshold"] == 1 and "docs/operations.md#function-" in alarm["AlarmDescription"]


def test_aurora_acu_at_max_and_proxy_connections(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        config = stage_config(synth.stage)
        alarms = _alarms(synth)
        acu = alarms[f"social-{synth.stage}-aurora-acu-at-max"]
        assert (_metric(acu)["MetricName"], acu["Threshold"]) == ("ServerlessDatabaseCapacity", config.max_acu)
        assert acu["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert _metric(acu)["Dimensions"] == [{"Name": "DBClusterIdentifier", "Value": f"social-{synth.stage}-db"}]
    # Only a stage with RDS Proxy (prod; dev has none) watches the proxy's connections.
    assert "social-dev-proxy-connections-high" not in _alarms(dev)
    config = stage_config("prod")
    proxy = _alarms(prod)["social-prod-proxy-connections-high"]
    assert (_metric(proxy)["MetricName"], _metric(proxy)["Stat"]) == ("DatabaseConnections", "Sum")
    assert proxy["Threshold"] == int(proxy_pool_size(config) * 0.8)
    assert _metric(proxy)["Dimensions"][0]["Name"] == "ProxyName"


def test_media_dlq_alarm_notifies_the_topic(dev: Synth) -> None:
    template = dev.assembly.get_stack_by_name(dev.stack_name("processing")).template
    (alarm,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["AlarmName"] == "social-dev-media-dlq-not-empty"
    ]
    props = alarm["Properties"]
    assert props["Threshold"] == 1 and "docs/operations.md#media-dlq-not-empty" in props["AlarmDescription"]
    watched = {q["MetricStat"]["Metric"]["MetricName"] for q in props["Metrics"] if "MetricStat" in q}
    assert watched == {"ApproximateNumberOfMessagesVisible"}  # of the media and the transcode DLQ
    (action,) = props["AlarmActions"]
    assert "Social-dev-Monitoring" in json.dumps(action)  # the topic, imported from the monitoring stack


def test_the_dashboard_shows_both_dlqs_of_the_media_pipeline(prod: Synth) -> None:
    (dashboard,) = prod.resources("monitoring", "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "social-prod-media-dlq" in body and "social-prod-transcode-dlq" in body


def test_one_dashboard_with_the_main_widgets(prod: Synth) -> None:
    (dashboard,) = prod.resources("monitoring", "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "social-prod-overview"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in (
        "API requests",
        "API 5xx rate",
        "API p99 latency",
        "Lambda errors",
        "Lambda throttles",
        "Aurora capacity",
        "RDS Proxy connections",
        "DLQ depth",
        "Alarms",
    ):
        assert title in body, title
