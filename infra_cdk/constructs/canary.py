"""Canary deployments: CodeDeploy moves each `live` alias to the new version 10 % for 5 minutes, then
all, watched by an alarm on the new version's errors and p99 latency; the alarm in the window, or a
failed deployment, moves the alias back to the previous version and fails the stack update.

Every API, authorizer and event function is called through its `live` alias (API Gateway's
integrations and authorizer, the WebSocket routes, the SQS event source mappings), so the alias
decides which version takes traffic. In stages without `canaryDeployments` (dev) CloudFormation
moves the aliases all at once and no deployment group or canary alarm exists.

The alarm watches the alias's new version only (dimensions FunctionName, Resource <name>:live and
ExecutedVersion <new version>, as AWS SAM's safe deployments do), on one-minute periods: the old
version's errors during the window roll nothing back. Migrations run before any alias moves (the
`migrate` trigger), so both versions meet the new schema: expand/contract (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from core.routes import FunctionSpec
from infra_cdk.config import StageConfig
from infra_cdk.constructs.function_factory import LIVE_ALIAS, function_name, sizing
from infra_cdk.nag import acknowledge

DEPLOYMENT_CONFIG = codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES
MANAGED_POLICY = "AWSCodeDeployRoleForLambdaLimited"
# An event processor's p99 duration above this share of its timeout fails its canary.
EVENTS_LATENCY_SHARE = 0.8


def latency_threshold_ms(config: StageConfig, spec: FunctionSpec) -> int:
    """The canary's p99 Duration limit: the stage's API latency alarm threshold on the request
    path; for an event processor, most of its timeout."""
    if spec.kind in ("api", "authorizer"):
        return config.api_p99_latency_ms
    return int(sizing(spec).timeout.to_milliseconds() * EVENTS_LATENCY_SHARE)


class CanaryDeployments(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        specs: Sequence[FunctionSpec],
        functions: Mapping[str, lambda_.Function],
        aliases: Mapping[str, lambda_.Alias],
    ) -> None:
        super().__init__(scope, construct_id)
        self.application = codedeploy.LambdaApplication(self, "Application", application_name=config.prefix)
        # One service role for every deployment group of the stage.
        self.role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal("codedeploy.amazonaws.com"),
            description=f"{config.prefix}: CodeDeploy canaries of the live aliases",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSCodeDeployRoleForLambdaLimited")
            ],
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{MANAGED_POLICY}]",
            f"CodeDeploy's service role uses {MANAGED_POLICY}, the AWS managed policy AWS documents for Lambda "
            "deployments: update and read aliases, read the groups' alarms, invoke only CodeDeployHook_* hooks.",
        )
        self.groups: dict[str, codedeploy.LambdaDeploymentGroup] = {}
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for spec in specs:
            alias = aliases.get(spec.name)
            if alias is None:
                continue
            name = function_name(config, spec)
            construct = "".join(part.capitalize() for part in spec.name.split("_"))
            new_version = {
                "FunctionName": name,
                "Resource": f"{name}:{LIVE_ALIAS}",
                "ExecutedVersion": functions[spec.name].current_version.version,
            }
            limit = latency_threshold_ms(config, spec)
            metrics = {
                "errors": cloudwatch.Metric(
                    namespace="AWS/Lambda",
                    metric_name="Errors",
                    dimensions_map=new_version,
                    statistic="Sum",
                    period=Duration.minutes(1),
                ),
                "p99": cloudwatch.Metric(
                    namespace="AWS/Lambda",
                    metric_name="Duration",
                    dimensions_map=new_version,
                    statistic="p99",
                    period=Duration.minutes(1),
                ),
            }
            # One alarm per function over both metrics (the Api stack is near CloudFormation's 500
            # resources): 1 while the new version errs or runs slow in a minute, else 0.
            alarm = cloudwatch.Alarm(
                self,
                f"{construct}CanaryAlarm",
                alarm_name=f"{config.prefix}-{spec.name}-canary",
                alarm_description=f"The version of {name} being deployed failed (error or timeout) or ran p99 "
                f"above {limit} ms in a minute: CodeDeploy moves the live alias back. "
                "Runbook: docs/operations.md#canary-rollback",
                metric=cloudwatch.MathExpression(
                    expression=f"MAX([IF(errors >= 1, 1, 0), IF(p99 > {limit}, 1, 0)])",
                    using_metrics=metrics,
                    period=Duration.minutes(1),
                    label=f"{spec.name} new version: errors or p99 > {limit} ms",
                ),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            group = codedeploy.LambdaDeploymentGroup(
                self,
                f"{construct}Canary",
                application=self.application,
                role=self.role,
                deployment_group_name=f"{config.prefix}-{spec.name}",
                alias=alias,
                deployment_config=DEPLOYMENT_CONFIG,
                alarms=[alarm],
                auto_rollback=codedeploy.AutoRollbackConfig(
                    deployment_in_alarm=True, failed_deployment=True, stopped_deployment=True
                ),
            )
            # The alarm watches the new version before CodeDeploy starts shifting traffic to it.
            alias.node.add_dependency(alarm)
            self.groups[spec.name] = group
            self.alarms[spec.name] = alarm
