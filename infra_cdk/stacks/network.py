"""VPC with isolated subnets only: no NAT and no IPv4 route out; AWS APIs through endpoints, and
IPv6 out through an egress-only internet gateway for the functions that must reach the WebSocket
API's @connections endpoint (docs/decisions.md "Where each function runs")."""

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
            # Dual stack: an Amazon-provided /56, a /64 per subnet; the isolated subnets get a ::/0
            # route to an egress-only internet gateway below, and no IPv4 route.
            ip_protocol=ec2.IpProtocol.DUAL_STACK,
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
        self.egress_only_gateway = self._ipv6_egress_route()
        # Functions with egress="ipv6" (core.routes) carry this group too: HTTPS out over IPv6, nothing
        # else (their database group allows IPv4 out, which has no route out of the VPC).
        self.ipv6_egress = ec2.SecurityGroup(
            self,
            "Ipv6EgressSg",
            vpc=self.vpc,
            description="Functions that reach dual-stack endpoints: HTTPS out over IPv6 only",
            allow_all_outbound=False,
        )
        self.ipv6_egress.add_egress_rule(ec2.Peer.any_ipv6(), ec2.Port.tcp(443), "HTTPS to dual-stack endpoints")

        # S3 through a (free) gateway endpoint; the rest through interface endpoints with
        # private DNS, admitting HTTPS from inside the VPC only. No Bedrock endpoint: only the AI
        # worker calls a provider, and it runs outside the VPC (docs/decisions.md).
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
            # Feature flags (core.flags): AppConfig's data plane, read by rooms from the isolated subnets.
            "AppConfigData": ec2.InterfaceVpcEndpointAwsService.APPCONFIGDATA,
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

    def _ipv6_egress_route(self) -> ec2.CfnEgressOnlyInternetGateway:
        """An egress-only internet gateway and ::/0 to it from every isolated subnet: outbound IPv6
        only (nothing from the internet can open a connection in), free, and no IPv4 route at all.
        (CDK makes the gateway only for PRIVATE_WITH_EGRESS subnets under the feature flag
        requirePrivateSubnetsForEgressOnlyInternetGateway: made here for the isolated ones.)"""
        gateway = ec2.CfnEgressOnlyInternetGateway(self, "EgressOnlyGateway", vpc_id=self.vpc.vpc_id)
        for index, subnet in enumerate(self.vpc.isolated_subnets):
            route = ec2.CfnRoute(
                self,
                f"Ipv6Egress{index + 1}",
                route_table_id=subnet.route_table.route_table_id,
                destination_ipv6_cidr_block="::/0",
                egress_only_internet_gateway_id=gateway.attr_id,
            )
            route.node.add_dependency(subnet)
        return gateway

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
