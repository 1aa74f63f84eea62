"""Alarms routed to one encrypted SNS topic, and one CloudWatch dashboard.

Metrics are addressed by the physical names the other stacks give their resources
(social-<stage>-api, social-<stage>-<function>, social-<stage>-db, each queue's and DLQ's name), so this
stack depends on no other stack's exports except the RDS Proxy's generated name. Each alarm
has a runbook section in docs/operations.md (the alarm's name is its heading).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from core.routes import FunctionSpec
from infra_cdk.config import StageConfig
from infra_cdk.constructs.queue_consumer import construct_name, queue_specs

FIVE_MINUTES = Duration.minutes(5)
ONE_MINUTE = Duration.minutes(1)
# Share of the proxy's pool in use that pages someone.
PROXY_ALARM_FRACTION = 0.8
GT_OR_EQ = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
# The budget alerts: forecast to pass 80 % of it this month, and actually past it.
BUDGET_FORECAST_PERCENT = 80
BUDGET_ACTUAL_PERCENT = 100


def proxy_pool_size(config: StageConfig) -> int:
    """Connections RDS Proxy may open to the cluster (MaxConnectionsPercent of max_connections)."""
    return config.db_max_connections * config.proxy_max_connections_percent // 100


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Sequence[FunctionSpec],
        function_names: dict[str, str],
        api_name: str,
        cluster_identifier: str,
        proxy_name: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.alarms: list[cloudwatch.Alarm] = []

        # CloudWatch can publish to an encrypted topic only with a customer managed key whose
        # policy lets cloudwatch.amazonaws.com use it (the AWS managed aws/sns key cannot).
        key = kms.Key(
            self,
            "AlarmsKey",
            description=f"{config.prefix}: encrypts the alarm topic",
            enable_key_rotation=True,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Alarms",
            topic_name=f"{config.prefix}-alarms",
            display_name=f"{config.prefix} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.action = cw_actions.SnsAction(self.topic)

        api = {"ApiName": api_name, "Stage": config.stage}
        self.api_5xx = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map=api,
            statistic="Average",
            period=FIVE_MINUTES,
            label="5xx rate",
        )
        self.api_p99 = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="Latency",
            dimensions_map=api,
            statistic="p99",
            period=FIVE_MINUTES,
            label="p99 latency (ms)",
        )
        self.api_count = cloudwatch.Metric(
            namespace="AWS/ApiGateway", metric_name="Count", dimensions_map=api, statistic="Sum", period=FIVE_MINUTES
        )
        self._alarm(
            "Api5xxRate",
            "api-5xx-rate",
            f"More than {config.api_5xx_rate_percent}% of API requests answered 5xx over 5 minutes.",
            self.api_5xx,
            config.api_5xx_rate_percent / 100,
            GT,
            evaluation_periods=2,
        )
        self._alarm(
            "ApiP99Latency",
            "api-p99-latency",
            f"API p99 latency above {config.api_p99_latency_ms} ms for 15 minutes.",
            self.api_p99,
            config.api_p99_latency_ms,
            GT,
            evaluation_periods=3,
        )

        self.errors: list[cloudwatch.IMetric] = []
        self.throttles: list[cloudwatch.IMetric] = []
        for spec in functions:
            name = function_names[spec.name]
            dims = {"FunctionName": name}
            errors = cloudwatch.Metric(
                namespace="AWS/Lambda", metric_name="Errors", dimensions_map=dims, statistic="Sum",
                period=FIVE_MINUTES, label=spec.name,
            )  # fmt: skip
            throttles = cloudwatch.Metric(
                namespace="AWS/Lambda", metric_name="Throttles", dimensions_map=dims, statistic="Sum",
                period=FIVE_MINUTES, label=spec.name,
            )  # fmt: skip
            self.errors.append(errors)
            self.throttles.append(throttles)
            if not config.per_function_alarms:
                continue
            construct = "".join(part.capitalize() for part in spec.name.split("_"))
            self._alarm(
                f"{construct}Errors",
                f"{spec.name}-errors",
                f"{name} failed (unhandled error or timeout) in the last 5 minutes.",
                errors,
                1,
                GT_OR_EQ,
                runbook="function-errors",
            )
            self._alarm(
                f"{construct}Throttles",
                f"{spec.name}-throttles",
                f"{name} was throttled: its reserved concurrency (its database connection share) is used up.",
                throttles,
                1,
                GT_OR_EQ,
                runbook="function-throttles",
            )

        if not config.per_function_alarms:
            self._account_wide_function_alarms()

        # Every event processor's DLQ (core.queues); their depth alarms live in the processing
        # stack and are routed here. A queue may also alarm on the age of its oldest message.
        queues = queue_specs(functions)
        self.dlq_depths = [
            cloudwatch.Metric(
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions_map={"QueueName": queue.dlq_name(config.prefix)},
                statistic="Maximum",
                period=ONE_MINUTE,
                label=f"{queue.name} DLQ depth",
            )
            for queue in queues
        ]
        for queue in queues:
            if queue.max_message_age_s is not None:
                self._alarm(
                    f"{construct_name(queue.name)}MessageAge",
                    f"{queue.name}-message-age",
                    f"The oldest message in {queue.queue_name(config.prefix)} has waited more than "
                    f"{queue.max_message_age_s} s: its function is failing, throttled or too slow.",
                    cloudwatch.Metric(
                        namespace="AWS/SQS",
                        metric_name="ApproximateAgeOfOldestMessage",
                        dimensions_map={"QueueName": queue.queue_name(config.prefix)},
                        statistic="Maximum",
                        period=ONE_MINUTE,
                        label=f"{queue.name} oldest message (s)",
                    ),
                    queue.max_message_age_s,
                    GT,
                    runbook="queue-message-age",
                )
        self.acu = cloudwatch.Metric(
            namespace="AWS/RDS",
            metric_name="ServerlessDatabaseCapacity",
            dimensions_map={"DBClusterIdentifier": cluster_identifier},
            statistic="Maximum",
            period=FIVE_MINUTES,
            label="ACU",
        )
        self._alarm(
            "AuroraAcuAtMax",
            "aurora-acu-at-max",
            f"Aurora Serverless v2 has run at its maximum ({config.max_acu} ACU) for 15 minutes.",
            self.acu,
            config.max_acu,
            GT_OR_EQ,
            evaluation_periods=3,
        )

        self.proxy_connections: cloudwatch.Metric | None = None
        if proxy_name is not None:
            pool = proxy_pool_size(config)
            # Per proxy instance; the Sum of a one-minute period adds them up.
            self.proxy_connections = cloudwatch.Metric(
                namespace="AWS/RDS",
                metric_name="DatabaseConnections",
                dimensions_map={"ProxyName": proxy_name},
                statistic="Sum",
                period=ONE_MINUTE,
                label="proxy -> database connections",
            )
            self._alarm(
                "ProxyConnectionsHigh",
                "proxy-connections-high",
                f"RDS Proxy holds more than {int(PROXY_ALARM_FRACTION * 100)}% of its pool "
                f"({pool} connections) for 5 minutes.",
                self.proxy_connections,
                int(pool * PROXY_ALARM_FRACTION),
                GT,
                evaluation_periods=5,
            )

        self.dashboard = self._dashboard() if self.config.dashboard else None
        self.budget = self._budget(key)

    def _budget(self, key: kms.Key) -> budgets.CfnBudget:
        """The stage's monthly cost budget (costs tagged stage=<stage>): the alarm topic hears at 80 %
        of it forecast and at 100 % actual. Budgets may publish to this topic only from this account,
        and use the topic's key (an encrypted topic)."""
        budget_sources = {
            "StringEquals": {"aws:SourceAccount": self.account},
            "ArnLike": {"aws:SourceArn": f"arn:{self.partition}:budgets::{self.account}:*"},
        }
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["SNS:Publish"],
                resources=[self.topic.topic_arn],
                conditions=budget_sources,
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=budget_sources,
            )
        )
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=self.topic.topic_arn)]
        budget = budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{self.config.prefix}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=self.config.monthly_budget_usd, unit="USD"),
                # Every resource of the stage carries the stage tag (infra_cdk/app.py); it must be an
                # active cost allocation tag (docs/operations.md "Budget").
                cost_filters={"TagKeyValue": [f"user:stage${self.config.stage}"]},
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, percent in (("FORECASTED", BUDGET_FORECAST_PERCENT), ("ACTUAL", BUDGET_ACTUAL_PERCENT))
            ],
        )
        policy = self.topic.node.try_find_child("Policy")
        if policy is not None:
            budget.node.add_dependency(policy)
        return budget

    def _account_wide_function_alarms(self) -> None:
        """One errors and one throttles alarm over AWS/Lambda's aggregates (no FunctionName
        dimension: every function of the account and region), for a stage that trades naming the
        function for 0.20 USD instead of 0.20 per function; the logs name it."""
        for metric_name, runbook, what in (
            ("Errors", "function-errors", "A function failed (unhandled error or timeout)"),
            ("Throttles", "function-throttles", "A function was throttled (reserved concurrency used up)"),
        ):
            metric = cloudwatch.Metric(
                namespace="AWS/Lambda", metric_name=metric_name, statistic="Sum", period=FIVE_MINUTES
            )
            self._alarm(
                f"AnyFunction{metric_name}",
                f"functions-{metric_name.lower()}",
                f"{what} in the last 5 minutes; account-wide: find which in its logs or in "
                f"AWS/Lambda {metric_name} by function name.",
                metric,
                1,
                GT_OR_EQ,
                runbook=runbook,
            )

    def _alarm(
        self,
        construct_id: str,
        name: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        evaluation_periods: int = 1,
        runbook: str | None = None,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self.config.prefix}-{name}",
            alarm_description=f"{description} Runbook: docs/operations.md#{runbook or name}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self.action)
        alarm.add_ok_action(self.action)
        self.alarms.append(alarm)
        return alarm

    def route(self, alarm: cloudwatch.Alarm) -> None:
        """Send another stack's alarm (e.g. a DLQ's, from the processing stack) to the topic too."""
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)

    def _dashboard(self) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{self.config.prefix}-overview")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="API requests", left=[self.api_count], width=8),
            cloudwatch.GraphWidget(title="API 5xx rate", left=[self.api_5xx], width=8),
            cloudwatch.GraphWidget(title="API p99 latency (ms)", left=[self.api_p99], width=8),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Lambda errors", left=self.errors, width=12),
            cloudwatch.GraphWidget(title="Lambda throttles", left=self.throttles, width=12),
        )
        database: list[cloudwatch.IMetric] = [self.acu]
        connections = [self.proxy_connections] if self.proxy_connections is not None else []
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Aurora capacity (ACU)", left=database, width=8),
            cloudwatch.GraphWidget(title="RDS Proxy connections", left=connections, width=8),
            cloudwatch.GraphWidget(title="DLQ depth", left=self.dlq_depths, width=8),
        )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return dashboard
