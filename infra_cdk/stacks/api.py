"""Layers, every function of the catalog, the REST API built from the route table, the
migration trigger and the WAF."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations, Aws, CfnMapping, CfnOutput, CfnRule, CfnRuleAssertion, Duration, Fn, Stack, triggers
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.routes import BASE_PATH, FUNCTIONS, ROUTES, FunctionSpec, Route
from infra_cdk import packaging
from infra_cdk.concurrency import reserved_concurrency
from infra_cdk.config import StageConfig
from infra_cdk.constructs.assets import ASSETS, AssetsResources
from infra_cdk.constructs.auth import AuthResources
from infra_cdk.constructs.canary import CanaryDeployments
from infra_cdk.constructs.cdn import CdnSigning
from infra_cdk.constructs.flags import FeatureFlagsConfig
from infra_cdk.constructs.function_factory import (
    ALIAS_KINDS,
    ARCHITECTURE,
    LIVE_ALIAS,
    RUNTIME,
    SNAPSTART_KINDS,
    FunctionWiring,
    make_function,
)
from infra_cdk.constructs.media import MEDIA, TRANSCODE, MediaWiring
from infra_cdk.constructs.posts import POSTS, PostsResources
from infra_cdk.constructs.queue_consumer import consume_queues
from infra_cdk.constructs.realtime import RealtimeResources
from infra_cdk.constructs.rest_api import RestApi
from infra_cdk.constructs.rooms import RoomImagesResources, RoomsResources
from infra_cdk.constructs.waf import ApiFirewall
from infra_cdk.nag import acknowledge

AUTHORIZER = "authorizer"
MIGRATE = "migrate"


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        vpc: ec2.IVpc,
        db_clients: ec2.ISecurityGroup,
        # HTTPS out over IPv6 (the network stack's group), for functions with egress="ipv6".
        ipv6_egress: ec2.ISecurityGroup | None = None,
        proxy: rds.DatabaseProxy | None,
        cluster: rds.DatabaseCluster | None = None,
        database_ready: Construct | None = None,
        assets_bucket: s3.IBucket | None = None,
        cdn: CdnSigning | None = None,
        # The processing stack's queues by logical name (core.queues), and the role MediaConvert assumes.
        queues: Mapping[str, sqs.IQueue] | None = None,
        mediaconvert_role: iam.IRole | None = None,
        functions: tuple[FunctionSpec, ...] = FUNCTIONS,
        routes: tuple[Route, ...] = ROUTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config

        layer_props: dict[str, Any] = {
            "compatible_runtimes": [RUNTIME],
            "compatible_architectures": [ARCHITECTURE],
        }
        core_layer = lambda_.LayerVersion(
            self,
            "CoreLayer",
            code=lambda_.Code.from_asset(str(packaging.core_layer())),
            description="core: settings, db, http envelope, models, migrations, route table",
            **layer_props,
        )
        deps_layer = lambda_.LayerVersion(
            self,
            "DepsLayer",
            code=lambda_.Code.from_asset(str(packaging.deps_layer())),
            description="Third-party runtime dependencies (layers/deps/requirements.txt), arm64 cp312",
            **layer_props,
        )
        if packaging.runtime_interpreter() is None:
            Annotations.of(self).add_warning_v2(
                "app:no-bytecode",
                "layers and functions ship without bytecode: set PYTHON_LAMBDA to a Python 3.12 (every cold "
                "start and snapshot compiles each module from source, ~3x the import time)",
            )
        wiring = FunctionWiring(
            config=config,
            layers=(deps_layer, core_layer),
            vpc=vpc,
            db_clients=db_clients,
            proxy=proxy,
            cluster=cluster,
            reserved_concurrency=reserved_concurrency(config, functions),
            cdn=cdn,
            ipv6_egress=ipv6_egress,
        )
        scope = Construct(self, "Functions")
        self.functions: dict[str, lambda_.Function] = {
            spec.name: make_function(scope, spec, wiring) for spec in functions
        }
        self._trust_the_rds_ca(
            [self.functions[spec.name] for spec in functions if spec.uses_db],
            layer_props,
            behind_proxy=proxy is not None,
        )

        # Every API, authorizer and event function takes traffic through its `live` alias, which each
        # deploy moves to the new version: at once, or by a CodeDeploy canary (canaryDeployments).
        # SnapStart runs on published versions only, so the request path needs the alias anyway.
        self.aliases: dict[str, lambda_.Alias] = {
            spec.name: lambda_.Alias(
                self.functions[spec.name],
                "Live",
                alias_name=LIVE_ALIAS,
                version=self.functions[spec.name].current_version,
            )
            for spec in functions
            if spec.kind in ALIAS_KINDS
        }
        for spec in functions:
            if spec.kind in SNAPSTART_KINDS:
                Annotations.of(self.functions[spec.name]).acknowledge_warning(
                    "@aws-cdk/aws-lambda:snapStartRequirePublish",
                    "Every deploy publishes a version (current_version) and moves the live alias that API Gateway "
                    "calls.",
                )
        self.canary = (
            CanaryDeployments(
                self, "Canary", config=config, specs=functions, functions=self.functions, aliases=self.aliases
            )
            if config.canary_deployments
            else None
        )

        # The stage's feature flags in AppConfig, and read access for the functions that evaluate them.
        self.flags = FeatureFlagsConfig(
            self, "FeatureFlags", config=config, specs={s.name: s for s in functions}, functions=self.functions
        )
        # Feature constructs (infra_cdk/constructs/<feature>.py) add what only their functions need.
        AuthResources(self, "Auth", config=config, functions=self.functions)
        # The AI providers' grants and settings for every function that calls them (FunctionSpec.calls_ai).
        RoomsResources(self, "Rooms", config=config, functions=self.functions, specs=functions)
        # The WebSocket API: its routes need the realtime function's live alias; every function that
        # pushes (FunctionSpec.pushes) may post to its connections.
        self.realtime = RealtimeResources(
            self, "Realtime", config=config, functions=self.functions, aliases=self.aliases, specs=functions
        )
        if assets_bucket is not None:
            PostsResources(self, "Posts", config=config, functions=self.functions, bucket=assets_bucket)
            AssetsResources(self, "Assets", config=config, functions=self.functions, bucket=assets_bucket)
            RoomImagesResources(self, "RoomImages", config=config, functions=self.functions, bucket=assets_bucket)
        elif POSTS in self.functions or ASSETS in self.functions:
            raise ValueError("the posts and assets functions need the assets bucket: pass assets_bucket=")
        self._grant_invokes(functions)
        # Every event processor (FunctionSpec.queue) fed by its queue; then what only media needs.
        consume_queues(functions, self.functions, queues or {}, targets=self.aliases)
        if MEDIA in self.functions:
            if assets_bucket is None or queues is None or mediaconvert_role is None:
                raise ValueError("the media function needs the assets bucket and the processing stack's resources")
            MediaWiring(
                self,
                "Media",
                config=config,
                fn=self.functions[MEDIA],
                transcode=self.functions.get(TRANSCODE),
                queue=queues[MEDIA],
                mediaconvert_role=mediaconvert_role,
                bucket=assets_bucket,
            )

        self.rest = RestApi(self, "Rest", config=config)
        self.authorizer = self._authorizer()
        self._add_routes(routes)
        if config.waf:
            ApiFirewall(self, "Firewall", config=config, stage=self.rest.stage)
        else:
            acknowledge(
                self.rest.stage,
                "AwsSolutions-APIG3",
                f"Stage {config.stage} has no WAF web ACL to cost nothing idle (stage setting waf=false); the "
                "stage's throttling still limits it, and staging and prod carry the web ACL.",
            )
        database = database_ready or proxy or cluster
        if database is not None:
            self._migration_trigger(functions, database)

        CfnOutput(self, "ApiUrl", value=self.rest.api.url_for_path(BASE_PATH))

    def _grant_invokes(self, functions: tuple[FunctionSpec, ...]) -> None:
        """FunctionSpec.invokes: lambda:InvokeFunction on the `live` alias of each named function and
        nothing else (not the function, not its other versions: what the alias points at is what a
        canary deployment moves), and that alias's ARN as `<NAME>_FUNCTION_NAME`."""
        by_name = {spec.name: spec for spec in functions}
        for spec in functions:
            for target in spec.invokes:
                if target not in self.functions:
                    raise ValueError(f"{spec.name} invokes {target!r}, which is not in the catalog")
                if by_name[target].kind != "invoked":
                    raise ValueError(f"{spec.name} invokes {target!r}, which is not of kind 'invoked'")
                invoker, alias = self.functions[spec.name], self.aliases[target]
                invoker.add_to_role_policy(
                    iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[alias.function_arn])
                )
                invoker.add_environment(f"{target.upper()}_FUNCTION_NAME", alias.function_arn)

    def _trust_the_rds_ca(
        self, db_functions: list[lambda_.Function], layer_props: dict[str, Any], *, behind_proxy: bool
    ) -> None:
        """DB_CA_BUNDLE: the one small bundle that verifies the endpoint the functions connect to, which
        core.db loads alone, without the system trust store (a cold start's first connection builds
        the context: ~2 ms instead of ~18 to ~30, docs/decisions.md issue 16.5). RDS Proxy presents an ACM
        certificate (proxy-bundle.pem: the Amazon Trust Services roots); the cluster, one issued by
        its region's RDS CA (regions/<region>.pem, the region resolved at deploy)."""
        if not db_functions:
            return
        # rdsCaBundleUrl overrides the RDS CAs, which a stage behind the proxy never loads: not fetched there.
        bundle = packaging.rds_ca_layer("" if behind_proxy else self.config.rds_ca_bundle_url)
        layer = lambda_.LayerVersion(
            self,
            "RdsCaLayer",
            code=lambda_.Code.from_asset(str(bundle.asset)),
            # <= 256 characters (a label is at most 100); the sha256 is global-bundle.pem's.
            description=f"Database TLS trust ({bundle.certificates} RDS CAs of {len(bundle.regions)} regions, from "
            f"{bundle.label}; RDS Proxy's {bundle.proxy_certificates} roots): sha256 {bundle.sha256}",
            **layer_props,
        )
        if behind_proxy:
            path = packaging.RDS_PROXY_CA_PATH_IN_LAMBDA
            sha256 = bundle.proxy_sha256
            what = f"RDS Proxy's {bundle.proxy_certificates} Amazon Trust Services roots, from {bundle.proxy_source}"
        else:
            path = f"{packaging.RDS_REGION_CA_DIR_IN_LAMBDA}/{Aws.REGION}.pem"
            sha256 = CfnMapping(
                self, "RdsCaRegionBundles", mapping={region: {"sha256": s} for region, s in bundle.region_sha256}
            ).find_in_map(Aws.REGION, "sha256")
            what = f"the RDS CAs of the stack's region, from {bundle.label}"
            # The layer holds the RDS root CAs of some regions only: deploying anywhere else stops
            # before any change, instead of functions failing TLS to the cluster.
            CfnRule(
                self,
                "RdsCaBundleCoversRegion",
                assertions=[
                    CfnRuleAssertion(
                        assert_=Fn.condition_contains(list(bundle.regions), Aws.REGION),
                        assert_description=f"The rds-ca layer ({bundle.label}) holds the RDS root CAs of "
                        f"{len(bundle.regions)} regions, not this one: set the stage's rdsCaBundleUrl to AWS's bundle "
                        "of the region (https://truststore.pki.rds.amazonaws.com/<region>/<region>-bundle.pem).",
                    )
                ],
            )
        CfnOutput(
            self,
            "RdsCaBundleSha256",
            value=sha256,
            description=f"SHA-256 of the file DB_CA_BUNDLE names for the database functions: {what}",
        )
        for fn in db_functions:
            fn.add_layers(layer)
            fn.add_environment("DB_CA_BUNDLE", path)

    def _authorizer(self) -> apigw.RequestAuthorizer | None:
        """The Lambda REQUEST authorizer, as soon as the catalog has an `authorizer` function."""
        fn = self.functions.get(AUTHORIZER)
        if fn is None:
            return None
        return apigw.RequestAuthorizer(
            self,
            "Authorizer",
            handler=self.aliases.get(AUTHORIZER, fn),
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            # No caching: a logged-out (revoked) token must stop working on the next request.
            results_cache_ttl=Duration.seconds(0),
        )

    def _add_routes(self, routes: tuple[Route, ...]) -> None:
        """One resource per path of the route table (no catch-all proxy resource)."""
        root = self.rest.api.root
        integrations: dict[str, apigw.LambdaIntegration] = {}
        methods_by_path: dict[str, list[str]] = defaultdict(list)
        for route in routes:
            fn: lambda_.IFunction = self.aliases.get(route.function) or self.functions[route.function]
            # One invoke permission per function for this API (its source ARN: this API's stages, methods and
            # paths), not one per method: 86 per-method permissions took the api stack to CloudFormation's
            # 500-resource limit (docs/decisions.md "One invoke permission per function").
            integration = integrations.setdefault(
                route.function, apigw.LambdaIntegration(fn, proxy=True, scope_permission_to_method=False)
            )
            resource = root.resource_for_path(route.path)
            if route.auth:
                if self.authorizer is None:
                    raise ValueError(
                        f"{route.method} {route.path} requires auth but core.routes.FUNCTIONS has no "
                        f"{AUTHORIZER!r} function; refusing to publish it unauthenticated"
                    )
                method = resource.add_method(
                    route.method,
                    integration,
                    authorizer=self.authorizer,
                    authorization_type=apigw.AuthorizationType.CUSTOM,
                )
                acknowledge(
                    method,
                    "AwsSolutions-COG4",
                    "Authorized by the Lambda REQUEST authorizer that verifies our own JWT access tokens "
                    "and their revocation (ARCHITECTURE.md); there is no Cognito user pool.",
                )
            else:
                method = resource.add_method(route.method, integration)
                for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                    acknowledge(
                        method,
                        rule,
                        f"{route.method} {route.path} is public by design: auth=False in the route table "
                        "core.routes.ROUTES (API.md lists it without auth).",
                    )
            methods_by_path[route.path].append(route.method)
        for path, methods in methods_by_path.items():
            self.rest.add_cors_preflight(root.resource_for_path(path), methods)
            self.rest.add_method_not_allowed(root.resource_for_path(path), methods)

    def _migration_trigger(self, functions: tuple[FunctionSpec, ...], proxy: Construct) -> None:
        """Run `migrate` on deploy, after the proxy exists and before the API functions update.

        The trigger re-runs whenever the function's version changes, which includes a new
        core layer (migrations live there). A failing migration fails the deploy.
        """
        migrate = self.functions.get(MIGRATE)
        if migrate is None:
            return
        others = [self.functions[s.name] for s in functions if s.name != MIGRATE and s.kind != "task"]
        timeout = migrate.timeout or Duration.minutes(5)
        triggers.Trigger(
            self,
            "MigrateOnDeploy",
            handler=migrate,
            execute_after=[proxy],
            execute_before=others,
            execute_on_handler_change=True,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
            timeout=timeout.plus(Duration.seconds(30)),
        )
