"""The stage's log groups: one month unless told otherwise, kept in prod, removed with the
stack elsewhere (access logs, flow logs, PostgreSQL logs, each function's logs)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.config import StageConfig


def stage_log_group(
    scope: Construct,
    construct_id: str,
    config: StageConfig,
    *,
    log_group_name: str | None = None,
    retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=log_group_name,
        retention=retention,
        removal_policy=RemovalPolicy.RETAIN if config.is_prod else RemovalPolicy.DESTROY,
    )
