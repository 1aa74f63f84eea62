"""Aurora Serverless v2 PostgreSQL behind RDS Proxy (IAM auth, TLS required)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra_cdk.config import DB_APP_USER, DB_NAME, DB_PORT, DB_USER, StageConfig
from infra_cdk.constructs.log_groups import stage_log_group
from infra_cdk.nag import acknowledge

ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_17_9
IDLE_SESSION_TIMEOUT_MS = 5 * 60 * 1000


class DataStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        vpc: ec2.IVpc,
        secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        # Functions that talk to the database carry this group; the proxy admits only it.
        self.db_clients = ec2.SecurityGroup(
            self,
            "DbClients",
            vpc=vpc,
            description="Lambda functions that connect to the database through RDS Proxy",
            # Isolated subnets have no route out of the VPC: egress reaches only the proxy
            # and the VPC endpoints, whose own security groups decide.
            allow_all_outbound=True,
        )

        # The cluster's PostgreSQL log group, made here with its retention (instead of
        # `cloudwatch_logs_retention`, which deploys a log-retention Lambda) and before the
        # cluster, so RDS finds it rather than creating one that never expires.
        cluster_id = f"{config.prefix}-db"
        self.cluster_identifier = cluster_id
        postgres_logs = stage_log_group(
            self, "PostgresLogs", config, log_group_name=f"/aws/rds/cluster/{cluster_id}/postgresql"
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            cluster_identifier=cluster_id,
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            # The generated master user owns the schema: the migrate function and operators log in as
            # it (the proxy holds its secret); every other function connects as DB_APP_USER.
            credentials=rds.Credentials.from_generated_secret(DB_USER),
            default_database_name=DB_NAME,
            writer=rds.ClusterInstance.serverless_v2("Writer", auto_minor_version_upgrade=True),
            readers=[
                rds.ClusterInstance.serverless_v2(f"Reader{i + 1}", scale_with_writer=True)
                for i in range(config.db_readers)
            ],
            serverless_v2_min_capacity=config.min_acu,
            serverless_v2_max_capacity=config.max_acu,
            serverless_v2_auto_pause_duration=Duration.seconds(config.auto_pause_s) if config.min_acu == 0 else None,
            vpc=vpc,
            vpc_subnets=isolated,
            storage_encrypted=True,
            iam_authentication=True,
            # Performance Insights at the free 7-day retention, on every Serverless v2 instance.
            enable_performance_insights=True,
            performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT,
            backup=rds.BackupProps(retention=Duration.days(7), preferred_window="03:00-04:00"),
            preferred_maintenance_window="Sun:04:30-Sun:05:30",
            cloudwatch_logs_exports=["postgresql"],
            # Without the proxy, the one-time rds_iam grant runs through the Data API (no VPC access needed).
            enable_data_api=not config.rds_proxy,
            # Without the proxy every warm or frozen Lambda container holds a session of its own, and
            # Aurora pauses only with none open: close sessions idle for 5 minutes (the functions
            # reconnect: pre-ping on writes, one retry on reads).
            parameters=None if config.rds_proxy else {"idle_session_timeout": str(IDLE_SESSION_TIMEOUT_MS)},
            deletion_protection=config.protect_data,
            removal_policy=RemovalPolicy.SNAPSHOT if config.protect_data else RemovalPolicy.DESTROY,
        )
        Annotations.of(self.cluster).acknowledge_warning(
            "@aws-cdk/aws-rds:instancePerformanceInsightsOverridden",
            "Performance Insights is set once on the cluster; Aurora applies it to every instance.",
        )
        cfn_cluster = self.cluster.node.default_child
        assert cfn_cluster is not None
        cfn_cluster.node.add_dependency(postgres_logs)
        secret = self.cluster.secret
        assert secret is not None  # from_generated_secret always makes one

        # Single-user rotation of the master secret; the rotation function runs in the
        # isolated subnets and reaches Secrets Manager through the interface endpoint. Without
        # the proxy the master user logs in with IAM only (rds_iam, below): a password rotation
        # could never log in again, so there is none.
        if secrets_manager_endpoint is not None and config.rds_proxy:
            self.cluster.add_rotation_single_user(
                automatically_after=Duration.days(30),
                vpc_subnets=isolated,
                endpoint=secrets_manager_endpoint,
            )
        else:
            why = (
                "no Secrets Manager endpoint for a rotation function to reach (no interface endpoints, to cost "
                "nothing idle)"
                if secrets_manager_endpoint is None
                else "no RDS Proxy: the master user logs in with IAM tokens only (rds_iam), so its password is unused"
            )
            acknowledge(
                self.cluster,
                "AwsSolutions-SMG4",
                f"Stage {config.stage} does not rotate the master secret: {why}; stages with the proxy rotate it "
                "every 30 days.",
            )

        self.proxy: rds.DatabaseProxy | None = None
        # What must exist before the first function connects (the migration trigger waits for it).
        self.ready_for_functions: Construct = self.cluster
        if not config.rds_proxy:
            # Functions connect to the cluster endpoint directly, with IAM auth tokens.
            self.cluster.connections.allow_default_port_from(self.db_clients, "functions to the cluster (no proxy)")
            self.db_host = self.cluster.cluster_endpoint.hostname
            self.ready_for_functions = self._grant_iam_login(secret)
            self._acknowledge_unprotected(config)
            return
        self.proxy = self.cluster.add_proxy(
            "Proxy",
            # The master user (migrate) logs in to the cluster with its secret; any other user, such as
            # the functions' DB_APP_USER, with IAM end to end: the proxy's role generates its token
            # (rds_iam is granted to it by migration 0009), so that user has no password to keep.
            secrets=[secret],
            default_auth_scheme=rds.DefaultAuthScheme.IAM_AUTH,
            vpc=vpc,
            vpc_subnets=isolated,
            iam_auth=True,
            require_tls=True,
            debug_logging=False,
            # Lambda containers come and go; idle client connections are closed after 15 min.
            idle_client_timeout=Duration.minutes(15),
            # Give up on a busy pool within the API functions' own 10 s timeout (the default is 120 s).
            borrow_timeout=Duration.seconds(10),
            max_connections_percent=90,
        )
        proxy_role = self.proxy.node.find_child("IAMRole")
        assert isinstance(proxy_role, iam.Role)
        self.cluster.grant_connect(proxy_role, DB_APP_USER)
        self.proxy.connections.allow_from(self.db_clients, ec2.Port.tcp(DB_PORT), "functions to RDS Proxy")
        self.cluster.connections.allow_default_port_from(self.proxy, "RDS Proxy to the cluster")
        self.proxy_endpoint = self.proxy.endpoint
        self.db_host = self.proxy.endpoint
        self._acknowledge_unprotected(config)

    def _grant_iam_login(self, secret: secretsmanager.ISecret) -> Construct:
        """`GRANT rds_iam TO app` (the master user) once, when the cluster is created, through the Data API.

        Without the proxy the migrate function logs in as the master user with IAM tokens, which
        needs the rds_iam role; no function can grant it (they already log in with IAM). The Data
        API runs the statement with the master secret from outside the VPC. After it, the master
        user logs in with IAM only (PostgreSQL on RDS then refuses its password), so it runs on
        create only. The functions' role gets rds_iam from migration 0009, which the master runs.
        """
        grant = cr.AwsCustomResource(
            self,
            "GrantIamLogin",
            on_create=cr.AwsSdkCall(
                service="@aws-sdk/client-rds-data",  # the SDK v3 client the handler loads
                action="ExecuteStatement",
                parameters={
                    "resourceArn": self.cluster.cluster_arn,
                    "secretArn": secret.secret_arn,
                    "database": DB_NAME,
                    "sql": f"GRANT rds_iam TO {DB_USER}",
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"{self.cluster_identifier}-rds-iam-{DB_USER}"),
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(actions=["rds-data:ExecuteStatement"], resources=[self.cluster.cluster_arn]),
                    iam.PolicyStatement(
                        actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                        resources=[secret.secret_arn],
                    ),
                ]
            ),
            install_latest_aws_sdk=False,
            timeout=Duration.minutes(5),
        )
        grant.node.add_dependency(self.cluster)  # the writer instance too, not only the cluster
        # CDK's singleton function behind AwsCustomResource (deploy time only).
        for child in self.node.children:
            if child.node.id.startswith("AWS679f53fac002430cb0da5b7982bd2287"):
                acknowledge(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "CDK's AwsCustomResource handler (deploy time only) uses AWSLambdaBasicExecutionRole for "
                    "its own logs; its calls are scoped by the statements given to the custom resource.",
                )
        return grant

    def _acknowledge_unprotected(self, config: StageConfig) -> None:
        if not config.protect_data:
            acknowledge(
                self.cluster,
                "AwsSolutions-RDS10",
                f"Stage {config.stage} is disposable and must be destroyable by `cdk destroy`; prod enables "
                "deletion protection and a final snapshot.",
            )
