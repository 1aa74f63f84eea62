"""The stage's feature flags (core.flags) in AWS AppConfig: an application, the stage's environment, a
hosted freeform configuration profile holding Powertools' feature-flag document, its baseline version
deployed at once, and read access for the functions that evaluate flags.

CDK deploys `core.flags.BASELINE` as the first version; an operator flips a flag by deploying a new
hosted version with the `instant` strategy (docs/operations.md "Feature flags"), no code deploy. A
later `cdk deploy` leaves that version in place unless BASELINE itself changed.

The functions call AppConfig's data plane with the SDK (Powertools' AppConfigStore, no extension
layer). Those in the VPC reach it through the stage's `appconfigdata` interface endpoint; in a stage
without interface endpoints (dev), those with IPv6 egress (core.routes `egress="ipv6"`: rooms) use
AppConfig's dual-stack data endpoint over IPv6, and any other keeps every flag at its baseline (it
would otherwise wait for an endpoint that is not there); docs/decisions.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Annotations, Aws, Stack
from aws_cdk import aws_appconfig as appconfig
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from core import flags
from core.routes import FunctionSpec
from infra_cdk.config import StageConfig

# The functions that evaluate a flag (core.flags callers).
READERS = ("rooms", "ai_worker")  # ai_worker: a switch-off stops the queued jobs too
PROFILE_NAME = "feature-flags"
# How long a container uses a fetched document (FEATURE_FLAGS_MAX_AGE_S): a flip takes effect within it.
MAX_AGE_S = 60


class FeatureFlagsConfig(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        specs: Mapping[str, FunctionSpec],
        functions: Mapping[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        application = appconfig.CfnApplication(
            self, "Application", name=config.prefix, description=f"{config.prefix}: feature flags (core.flags)"
        )
        environment = appconfig.CfnEnvironment(
            self, "Environment", application_id=application.ref, name=config.stage, description=f"stage {config.stage}"
        )
        # Freeform JSON: Powertools' AppConfigStore reads its own schema, not AppConfig's FeatureFlags type.
        profile = appconfig.CfnConfigurationProfile(
            self,
            "Profile",
            application_id=application.ref,
            name=PROFILE_NAME,
            location_uri="hosted",
            type="AWS.Freeform",
            description="Powertools feature flags (core.flags); switch with a new hosted version",
        )
        baseline = appconfig.CfnHostedConfigurationVersion(
            self,
            "Baseline",
            application_id=application.ref,
            configuration_profile_id=profile.ref,
            content=flags.baseline_document(),
            content_type="application/json",
            description="core.flags.BASELINE",
        )
        # All at once, no bake time: a flag is a switch, and the next flip must not wait 10 minutes for
        # the predefined AppConfig.AllAtOnce strategy's bake.
        self.strategy = appconfig.CfnDeploymentStrategy(
            self,
            "Instant",
            name=f"{config.prefix}-instant",
            deployment_duration_in_minutes=0,
            growth_factor=100,
            final_bake_time_in_minutes=0,
            replicate_to="NONE",
            description="Feature flags: every target at once, no bake",
        )
        appconfig.CfnDeployment(
            self,
            "BaselineDeployment",
            application_id=application.ref,
            environment_id=environment.ref,
            configuration_profile_id=profile.ref,
            configuration_version=baseline.ref,
            deployment_strategy_id=self.strategy.ref,
            description="core.flags.BASELINE",
        )
        self.application_id = application.ref
        self.environment_id = environment.ref
        self.profile_id = profile.ref
        profile_arn = Stack.of(self).format_arn(
            service="appconfig",
            resource="application",
            resource_name=f"{application.ref}/environment/{environment.ref}/configuration/{profile.ref}",
        )
        for name in READERS:
            fn = functions.get(name)
            if fn is None:
                continue
            no_endpoint = specs[name].uses_db and not config.interface_endpoints
            if no_endpoint and specs[name].egress == "ipv6":
                # AppConfig's data plane is dual-stack (appconfigdata.<region>.api.aws): over IPv6, as SQS.
                fn.add_environment("AWS_ENDPOINT_URL_APPCONFIGDATA", f"https://appconfigdata.{Aws.REGION}.api.aws")
            elif no_endpoint:
                Annotations.of(fn).add_info(
                    f"{name}: stage {config.stage} has no interface endpoints, so no appconfigdata endpoint: "
                    "feature flags stay at their baseline (core.flags.BASELINE) in this stage"
                )
                continue
            fn.add_environment("APPCONFIG_APPLICATION", application.ref)
            fn.add_environment("APPCONFIG_ENVIRONMENT", environment.ref)
            fn.add_environment("APPCONFIG_PROFILE", profile.ref)
            fn.add_environment("FEATURE_FLAGS_MAX_AGE_S", str(MAX_AGE_S))
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"],
                    resources=[profile_arn],
                )
            )
