"""Data: Aurora Serverless v2 on a current engine, sized per stage, encrypted, backed up,
protected in prod, with Performance Insights, IAM auth and a rotated master secret."""

from __future__ import annotations

import json

import pytest
from infra_synth import Synth

from infra_cdk.config import stage_config
from infra_cdk.stacks.data import ENGINE_VERSION

pytestmark = pytest.mark.infra


def test_cluster_engine_capacity_backups_encryption(dev: Synth, prod: Synth) -> None:
    assert int(ENGINE_VERSION.aurora_postgres_major_version) >= 16  # a current, non-deprecated major
    for synth in (dev, prod):
        config = stage_config(synth.stage)
        (cluster,) = synth.resources("data", "AWS::RDS::DBCluster").values()
        props = cluster["Properties"]
        assert props["Engine"] == "aurora-postgresql"
        assert props["EngineVersion"] == ENGINE_VERSION.aurora_postgres_full_version
        scaling = props["ServerlessV2ScalingConfiguration"]
        assert (scaling["MinCapacity"], scaling["MaxCapacity"]) == (config.min_acu, config.max_acu)
        assert props["BackupRetentionPeriod"] == 7
        assert props["StorageEncrypted"] is True
        assert props["EnableIAMDatabaseAuthentication"] is True
        assert props["EnableCloudwatchLogsExports"] == ["postgresql"]
        # Performance Insights at the free retention, set on the cluster.
        assert props["PerformanceInsightsEnabled"] is True
        assert props["PerformanceInsightsRetentionPeriod"] == 7
        for instance in synth.resources("data", "AWS::RDS::DBInstance").values():
            assert instance["Properties"]["DBInstanceClass"] == "db.serverless"
            assert instance["Properties"]["PubliclyAccessible"] is False


def test_default_capacity_is_half_to_four_acu_and_dev_pauses_at_zero() -> None:
    from infra_cdk.config import StageConfig

    assert (StageConfig(stage="staging").min_acu, StageConfig(stage="staging").max_acu) == (0.5, 4.0)
    assert (stage_config("staging").min_acu, stage_config("staging").max_acu) == (0.5, 4.0)
    dev = stage_config("dev")
    assert (dev.min_acu, dev.max_acu, dev.auto_pause_s) == (0, 4.0, 600)


def test_only_prod_is_deletion_protected_and_snapshotted(dev: Synth, prod: Synth) -> None:
    (dev_cluster,) = dev.resources("data", "AWS::RDS::DBCluster").values()
    assert dev_cluster["Properties"]["DeletionProtection"] is False
    assert dev_cluster["DeletionPolicy"] == "Delete"
    (prod_cluster,) = prod.resources("data", "AWS::RDS::DBCluster").values()
    assert prod_cluster["Properties"]["DeletionProtection"] is True
    assert prod_cluster["DeletionPolicy"] == "Snapshot"


def test_master_secret_rotates_single_user_every_30_days(dev: Synth, prod: Synth) -> None:
    # dev: no Secrets Manager endpoint for the rotation function to reach (interfaceEndpoints=false).
    assert dev.resources("data", "AWS::SecretsManager::RotationSchedule") == {}
    for synth in (prod,):
        (schedule,) = synth.resources("data", "AWS::SecretsManager::RotationSchedule").values()
        rules = schedule["Properties"]["RotationRules"]
        assert rules["ScheduleExpression"] == "rate(30 days)"
        # AWS's hosted rotation function for PostgreSQL, single user (from the Serverless Application Repository).
        (app_id,) = synth.resources("data", "AWS::Serverless::Application")
        assert app_id.startswith("ClusterRotationSingleUser")
        mapping = next(iter(synth.raw["data"]["Mappings"].values()))
        assert mapping["aws"]["applicationId"].endswith("/SecretsManagerRDSPostgreSQLRotationSingleUser")


def test_proxy_requires_iam_and_tls(prod: Synth) -> None:
    (proxy,) = prod.resources("data", "AWS::RDS::DBProxy").values()
    props = proxy["Properties"]
    assert props["RequireTLS"] is True
    # Only the master user (migrate) has a secret; any other user, the functions' app_rw, is IAM end to end.
    (master,) = props["Auth"]
    assert master["IAMAuth"] == "REQUIRED" and master["AuthScheme"] == "SECRETS"
    assert props["DefaultAuthScheme"] == "IAM_AUTH"
    (policy,) = [
        p for k, p in prod.resources("data", "AWS::IAM::Policy").items() if k.startswith("ClusterProxyIAMRole")
    ]
    connect = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "rds-db:connect"]
    (statement,) = connect
    arn = json.dumps(statement["Resource"])
    assert "DBClusterResourceId" in arn and arn.endswith('"/app_rw"]]}')
    (group,) = prod.resources("data", "AWS::RDS::DBProxyTargetGroup").values()
    assert group["Properties"]["ConnectionPoolConfigurationInfo"]["MaxConnectionsPercent"] == 90
