"""VPC with isolated subnets only: no NAT, no internet route; AWS APIs through endpoints."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.config import StageConfig
from infra_cdk.constructs.log_groups import stage_log_group


class NetworkStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        flow_logs = stage_log_group(self, "FlowLogs", config)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.vpc_cidr),
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22),
            ],
            flow_logs={
                "All": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        self.isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        # S3 through a (free) gateway endpoint; the rest through interface endpoints with
        # private DNS, admitting HTTPS from inside the VPC only.
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.isolated]
        )
        endpoints_sg = ec2.SecurityGroup(
            self,
            "EndpointsSg",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from inside the VPC",
            allow_all_outbound=False,
        )
        # The literal CIDR (not the VPC's CidrBlock attribute) keeps the rule checkable by cdk-nag.
        endpoints_sg.add_ingress_rule(ec2.Peer.ipv4(config.vpc_cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
        endpoints: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
            "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
            "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
            # The rooms function's AI replies (Bedrock Converse) from the isolated subnets.
            "BedrockRuntime": ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
        }
        self.endpoints = {
            name: self.vpc.add_interface_endpoint(
                name, service=service, subnets=self.isolated, security_groups=[endpoints_sg], open=False
            )
            for name, service in endpoints.items()
            if config.interface_endpoints
        }
        # None in stages without interface endpoints (dev): see docs/decisions.md.
        self.secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None = self.endpoints.get("SecretsManager")

    def limit_s3_endpoint_to(self, *buckets: s3.IBucket) -> None:
        """The S3 gateway endpoint reaches these buckets only (the stage's assets bucket: what runs
        in the VPC, posts, assets and media, uses no other). Without a policy it reaches every
        bucket of every account, a way out for data; the functions' roles still decide the actions."""
        self.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="StageBucketsOnly",
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=[arn for b in buckets for arn in (b.bucket_arn, b.arn_for_objects("*"))],
            )
        )
