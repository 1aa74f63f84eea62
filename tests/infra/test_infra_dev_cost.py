"""dev built to cost almost nothing idle: each choice a stage setting (docs/decisions.md).

The stage settings default in infra_cdk/config.py; the no-proxy path (`rdsProxy=false`) is
synthesized here too, ready for when core.db trusts the RDS CA for direct connections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from infra_synth import PARTS, Synth

from infra_cdk.config import stage_config

pytestmark = pytest.mark.infra


def _synth_dev(overrides: dict[str, object], outdir: Path) -> Synth:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra_cdk import nag
    from infra_cdk.app import build_stacks, cdk_json_context, stack_name

    base = cdk_json_context()
    settings = {**base["stages"]["dev"], **overrides}
    app = cdk.App(context={**base, "stage": "dev"}, outdir=str(outdir))
    build_stacks(app, stage_config("dev", settings))
    nag.add_checks(app)
    assembly = app.synth()  # an unacknowledged cdk-nag finding raises here
    raw = {part: assembly.get_stack_by_name(stack_name("dev", part.capitalize())).template for part in PARTS}
    templates = {part: Template.from_json(t) for part, t in raw.items()}
    return Synth(stage="dev", app=app, assembly=assembly, outdir=outdir, templates=templates, raw=raw)


@pytest.fixture(scope="module")
def no_proxy(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth_dev({"rdsProxy": False}, tmp_path_factory.mktemp("cdk-dev-no-proxy"))


def test_dev_settings_and_the_other_stages_keep_everything() -> None:
    dev = stage_config("dev")
    assert (dev.min_acu, dev.interface_endpoints, dev.waf, dev.rds_proxy) == (0, False, False, True)
    for stage in ("staging", "prod"):
        config = stage_config(stage)
        assert config.min_acu > 0 and config.interface_endpoints and config.waf and config.rds_proxy


def test_dev_idles_without_endpoints_waf_or_a_running_database(dev: Synth, prod: Synth) -> None:
    assert dev.resources("api", "AWS::WAFv2::WebACL") == {}
    assert [e["Properties"]["VpcEndpointType"] for e in dev.resources("network", "AWS::EC2::VPCEndpoint").values()] == [
        "Gateway"
    ]
    (cluster,) = dev.resources("data", "AWS::RDS::DBCluster").values()
    assert cluster["Properties"]["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert cluster["Properties"]["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] == 600
    assert len(prod.resources("network", "AWS::EC2::VPCEndpoint")) == 5
    assert len(prod.resources("api", "AWS::WAFv2::WebACL")) == 1


def test_without_the_proxy_functions_use_the_cluster_endpoint_with_iam(no_proxy: Synth) -> None:
    assert no_proxy.resources("data", "AWS::RDS::DBProxy") == {}
    (cluster_id, cluster) = next(iter(no_proxy.resources("data", "AWS::RDS::DBCluster").items()))
    assert cluster["Properties"]["EnableIAMDatabaseAuthentication"] is True
    for fn in no_proxy.resources("api", "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "DB_HOST" in env:
            assert "EndpointAddress" in json.dumps(env["DB_HOST"]) and env["DB_IAM_AUTH"] == "true"
    policies = json.dumps([p["Properties"] for p in no_proxy.resources("api", "AWS::IAM::Policy").values()])
    assert "rds-db:connect" in policies and "dbuser:" in policies
    # The db-clients group may reach the cluster's port directly; no proxy alarm.
    ingress = json.dumps(no_proxy.raw["data"]["Resources"])
    assert "functions to the cluster (no proxy)" in ingress
    alarms = [a["Properties"]["AlarmName"] for a in no_proxy.resources("monitoring", "AWS::CloudWatch::Alarm").values()]
    assert "social-dev-proxy-connections-high" not in alarms and "social-dev-aurora-acu-at-max" in alarms
    # Migrations still run on deploy, before the API functions.
    (trigger_id,) = no_proxy.resources("api", "Custom::Trigger")
    for fn in no_proxy.resources("api", "AWS::Lambda::Function").values():
        name = fn["Properties"].get("FunctionName")
        if name in ("social-dev-posts", "social-dev-auth"):
            assert trigger_id in fn.get("DependsOn", []), name
    assert cluster_id.startswith("Cluster")
