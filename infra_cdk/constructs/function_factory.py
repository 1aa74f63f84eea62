"""The one factory that turns a `core.routes.FunctionSpec` into a Lambda function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from core.routes import FunctionSpec
from infra_cdk import packaging
from infra_cdk.config import DB_APP_USER, DB_NAME, DB_PORT, DB_USER, StageConfig
from infra_cdk.constructs.cdn import CdnSigning
from infra_cdk.constructs.log_groups import stage_log_group
from infra_cdk.lambda_env import RUNTIME_ENV
from infra_cdk.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64


@dataclass(frozen=True)
class Sizing:
    memory_mb: int
    timeout: Duration


# Per function kind. API timeouts stay well under API Gateway's 29 s integration limit.
SIZING: Mapping[str, Sizing] = {
    "api": Sizing(512, Duration.seconds(10)),
    "authorizer": Sizing(512, Duration.seconds(5)),
    "events": Sizing(1024, Duration.minutes(1)),
    "task": Sizing(1024, Duration.minutes(5)),
    # Database steps another function waits on (the AI worker's, ~10 a second per reply): the size
    # of an API function; the longest step waits up to 2 s for a fan-out (core.ai_steps).
    "invoked": Sizing(512, Duration.seconds(10)),
}


def sizing(spec: FunctionSpec) -> Sizing:
    """An event processor's size is part of its queue's declaration (core.queues); others', their kind's."""
    if spec.queue is not None:
        return Sizing(spec.queue.memory_mb, Duration.seconds(spec.queue.function_timeout_s))
    return SIZING[spec.kind]


_RETENTION = {
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}

# The request path: API Gateway calls these kinds through their LIVE alias in every stage, and
# they run with SnapStart (published versions only) where the stage's `snap_start` is on.
SNAPSTART_KINDS = frozenset({"api", "authorizer"})
LIVE_ALIAS = "live"
# Everything that takes traffic is called through its `live` alias, in every stage (API Gateway,
# the WebSocket routes, SQS event source mappings, the functions that invoke another:
# FunctionSpec.invokes): the alias is what a canary deployment moves
# (infra_cdk/constructs/canary.py). Tasks (migrate) are invoked directly by the deploy.
ALIAS_KINDS = frozenset({"api", "authorizer", "events", "invoked"})


def uses_snapstart(config: StageConfig, spec: FunctionSpec) -> bool:
    """SnapStart for this function in this stage: a request-path kind, and the stage pays for it
    (`snapStart`; the after-restore and priming hooks of core.db are simply never called without it)."""
    return config.snap_start and spec.kind in SNAPSTART_KINDS


_LOG_LEVELS = {
    "DEBUG": lambda_.ApplicationLogLevel.DEBUG,
    "INFO": lambda_.ApplicationLogLevel.INFO,
    "WARNING": lambda_.ApplicationLogLevel.WARN,
    "ERROR": lambda_.ApplicationLogLevel.ERROR,
}


@dataclass(frozen=True)
class FunctionWiring:
    """What every function of a stage shares."""

    config: StageConfig
    layers: Sequence[lambda_.ILayerVersion]
    vpc: ec2.IVpc
    db_clients: ec2.ISecurityGroup
    proxy: rds.IDatabaseProxy | None
    # The cluster, when the stage has no proxy: DB_HOST is its endpoint, rds-db:connect on it.
    cluster: rds.DatabaseCluster | None = None
    # Reserved concurrency per function name (infra_cdk/concurrency.py); absent: none.
    reserved_concurrency: Mapping[str, int] = field(default_factory=dict)
    # CloudFront signing where the stage stores the private key (`cdnPrivateKeySecretArn`); None:
    # the functions answer with presigned S3 URLs.
    cdn: CdnSigning | None = None
    # The network stack's HTTPS-over-IPv6 group, for functions with egress="ipv6" (core.routes).
    ipv6_egress: ec2.ISecurityGroup | None = None


def sqs_dual_stack_endpoint() -> str:
    """SQS's dual-stack regional endpoint (sqs.<region>.api.aws): reached over IPv6 from a stage
    without the SQS interface endpoint (docs/decisions.md "Where each function runs")."""
    return f"https://sqs.{Aws.REGION}.api.aws"


def network(wiring: FunctionWiring, spec: FunctionSpec) -> dict[str, Any]:
    """Where the function runs: outside the VPC (no database), or in the isolated subnets with the
    db-clients group and, for egress="ipv6", outbound IPv6 through the egress-only gateway."""
    if not spec.uses_db:
        return {}
    groups: list[ec2.ISecurityGroup] = [wiring.db_clients]
    if spec.egress == "ipv6":
        if wiring.ipv6_egress is None:
            raise ValueError(f"{spec.name} has egress='ipv6': pass the network stack's ipv6_egress group")
        groups.append(wiring.ipv6_egress)
    return {
        "vpc": wiring.vpc,
        "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        "security_groups": groups,
        "ipv6_allowed_for_dual_stack": spec.egress == "ipv6",
    }


# The functions that hand out URLs of variants/ (core.storage.variant_url): they sign for CloudFront.
CDN_FUNCTIONS = frozenset({"assets", "posts", "rooms"})


def _db_host(wiring: FunctionWiring) -> str:
    if wiring.proxy is not None:
        return wiring.proxy.endpoint
    if wiring.cluster is None:
        raise ValueError("database functions need the RDS Proxy or, without one, the cluster")
    return wiring.cluster.cluster_endpoint.hostname


def db_user(spec: FunctionSpec) -> str:
    """The schema's owner (the master user) for the migrations, the application's role for every
    other function, which cannot change the schema (docs/decisions.md)."""
    return DB_USER if spec.owns_schema else DB_APP_USER


def function_name(config: StageConfig, spec: FunctionSpec) -> str:
    return f"{config.prefix}-{spec.name}"


def make_function(
    scope: Construct,
    spec: FunctionSpec,
    wiring: FunctionWiring,
    *,
    environment: Mapping[str, str] | None = None,
) -> lambda_.Function:
    """A function of the suite: python3.12 on arm64 with both layers, JSON logs, X-Ray, and
    (when it uses the database) the VPC, the db-clients group and `rds-db:connect` as its user (`db_user`)."""
    config = wiring.config
    size = sizing(spec)
    name = function_name(config, spec)
    construct_id = "".join(part.capitalize() for part in spec.name.split("_"))

    log_group = stage_log_group(
        scope,
        f"{construct_id}Logs",
        config,
        log_group_name=f"/aws/lambda/{name}",
        retention=_RETENTION[config.log_retention_days],
    )
    # An explicit role with inline, resource-scoped statements instead of the broad
    # AWSLambdaBasicExecutionRole / AWSLambdaVPCAccessExecutionRole managed policies.
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{name}: {spec.description}"[:1000],
    )
    log_group.grant_write(role)

    env = {
        **RUNTIME_ENV,
        "STAGE": config.stage,
        "POWERTOOLS_SERVICE_NAME": spec.name,
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        "CORS_ALLOWED_ORIGINS": ",".join(config.cors_allowed_origins),
    }
    if spec.uses_db:
        env |= {
            "DB_HOST": _db_host(wiring),
            "DB_PORT": str(DB_PORT),
            "DB_NAME": DB_NAME,
            "DB_USER": db_user(spec),
            "DB_IAM_AUTH": "true",
        }
        # Lambda manages the function's network interfaces with these; EC2 does not
        # support resource-level permissions for them, hence Resource "*".
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
    if wiring.cdn is not None and spec.name in CDN_FUNCTIONS:
        env |= wiring.cdn.environment()
        # Read once per container (core.cdn), through the stage's Secrets Manager endpoint.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[wiring.cdn.private_key_secret_arn]
            )
        )
    if spec.uses_db and spec.egress == "ipv6" and not config.interface_endpoints:
        # No SQS endpoint in this stage: boto3's SQS clients use the dual-stack endpoint, over IPv6
        # (only SQS: S3 keeps its gateway endpoint, and nothing else is reached this way).
        env["AWS_ENDPOINT_URL_SQS"] = sqs_dual_stack_endpoint()
    env |= dict(environment or {})

    fn = lambda_.Function(
        scope,
        construct_id,
        function_name=name,
        description=spec.description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        code=lambda_.Code.from_asset(str(packaging.function_code(spec.name))),
        handler=f"{spec.name}.handler.handler",
        layers=list(wiring.layers),
        memory_size=size.memory_mb,
        timeout=size.timeout,
        role=role,
        environment=env,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=_LOG_LEVELS[config.log_level],
        system_log_level_v2=lambda_.SystemLogLevel.INFO,
        tracing=lambda_.Tracing.ACTIVE,
        reserved_concurrent_executions=wiring.reserved_concurrency.get(spec.name),
        snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if uses_snapstart(config, spec) else None,
        **network(wiring, spec),
    )
    if spec.uses_db:
        if wiring.proxy is not None:
            wiring.proxy.grant_connect(fn, db_user(spec))
        else:
            assert wiring.cluster is not None
            wiring.cluster.grant_connect(fn, db_user(spec))

    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "Only actions without resource-level permissions use '*': X-Ray PutTraceSegments/PutTelemetryRecords "
        "(added by active tracing) and the EC2 network-interface actions Lambda needs to run in the VPC.",
    )
    acknowledge(
        fn,
        "AwsSolutions-L1",
        "python3.12 is pinned on purpose: the deps layer is built for cp312 wheels "
        "(infra_cdk/packaging.py); runtime and layer move together in one change.",
    )
    return fn
