"""What the GitHub Actions pipeline (.github/workflows/delivery.yml) deploys with: GitHub's OIDC
identity provider and one role per stage, assumable only by that repository's workflow jobs running
in the GitHub environment of the same name, and allowed nothing but assuming the CDK bootstrap roles
(`cdk-hnb659fds-*`) of this account and region. The bootstrap roles then publish the assets and run
CloudFormation (whose execution role does the rest), exactly as for an operator's `cdk deploy`.

No stored keys: each job exchanges its OIDC token (audience sts.amazonaws.com) for one hour of
credentials. Its own app and stack (`make deploy-delivery`), deployed once per account by an
administrator: the provider is one per account, and the pipeline must not be able to change the
role it runs as.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra_cdk.nag import acknowledge, finding_label

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
# The CDK's default bootstrap qualifier: its roles are cdk-hnb659fds-<purpose>-role-<account>-<region>.
BOOTSTRAP_QUALIFIER = "hnb659fds"


def deploy_role_name(stage: str) -> str:
    return f"social-{stage}-github-deploy"


class DeliveryStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: str,
        stages: Sequence[str],
        existing_provider_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if existing_provider_arn:
            provider: iam.IOidcProvider = iam.OidcProviderNative.from_oidc_provider_arn(
                self, "GitHub", existing_provider_arn
            )
        else:
            # No thumbprints: IAM verifies GitHub's certificate against its trusted CAs.
            provider = iam.OidcProviderNative(
                self, "GitHub", url=GITHUB_OIDC_URL, client_ids=[AUDIENCE], oidc_provider_name="github-actions"
            )
        self.roles: dict[str, iam.Role] = {}
        for stage in stages:
            role = iam.Role(
                self,
                f"Deploy{stage.capitalize()}",
                role_name=deploy_role_name(stage),
                description=f"GitHub Actions ({repository}, environment {stage}): cdk deploy of stage {stage}",
                max_session_duration=Duration.hours(1),
                assumed_by=iam.WebIdentityPrincipal(
                    provider.oidc_provider_arn,
                    conditions={
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                            # Only jobs that run in the GitHub environment named after the stage
                            # (prod's environment requires a reviewer: docs/operations.md).
                            f"{GITHUB_OIDC_HOST}:sub": f"repo:{repository}:environment:{stage}",
                        }
                    },
                ),
            )
            bootstrap_roles = (
                f"arn:{self.partition}:iam::{self.account}:role/"
                f"cdk-{BOOTSTRAP_QUALIFIER}-*-role-{self.account}-{self.region}"
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="AssumeCdkBootstrapRoles", actions=["sts:AssumeRole"], resources=[bootstrap_roles]
                )
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{finding_label(self, bootstrap_roles)}]",
                "Only the CDK bootstrap roles of this account and region (deploy, file and image publishing, "
                "lookup: cdk-hnb659fds-<purpose>-role-<account>-<region>); the wildcard is their purpose.",
            )
            CfnOutput(
                self, f"{stage.capitalize()}RoleArn", value=role.role_arn, description=f"AWS_DEPLOY_ROLE_ARN of {stage}"
            )
            self.roles[stage] = role
