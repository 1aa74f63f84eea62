"""Entry point of the CDK app: `cdk synth -c stage=dev|staging|prod` (cdk.json runs this module).

`build_app(stage)` builds the whole app in-process (the infra tests use it); `main()` builds
it from the CLI's context and synthesizes. cdk-nag's AwsSolutions pack runs as a validation
plugin at synth time, so an unacknowledged finding fails the synth.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from core.routes import FUNCTIONS
from infra_cdk import nag
from infra_cdk.config import APP_NAME, StageConfig, stage_config, validate_stage
from infra_cdk.constructs.function_factory import function_name
from infra_cdk.stacks.api import ApiStack
from infra_cdk.stacks.data import DataStack
from infra_cdk.stacks.monitoring import MonitoringStack
from infra_cdk.stacks.network import NetworkStack
from infra_cdk.stacks.processing import ProcessingStack
from infra_cdk.stacks.storage import StorageStack

ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = ROOT / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context block of cdk.json (feature flags, stage settings) for in-process apps;
    under the CLI it arrives through the environment too, and the CLI's values win."""
    return dict(json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {}))


def stack_name(stage: str, part: str) -> str:
    return f"{APP_NAME.capitalize()}-{stage}-{part}"


def build_app(
    stage: str | None = None, *, outdir: str | None = None, settings: Mapping[str, Any] | None = None
) -> cdk.App:
    """The app for one stage. `stage` None means: from context (`-c stage=...`, cdk.json default).

    `settings` override the stage's cdk.json settings (camelCase keys), for in-process builds."""
    app = cdk.App(
        context=cdk_json_context(),
        post_cli_context={"stage": stage} if stage is not None else None,
        outdir=outdir,
    )
    name = validate_stage(app.node.try_get_context("stage"))
    config = stage_config(name, {**(app.node.try_get_context("stages") or {}).get(name, {}), **(settings or {})})
    build_stacks(app, config)
    nag.add_checks(app)
    return app


def build_stacks(app: cdk.App, config: StageConfig) -> dict[str, cdk.Stack]:
    # AWS::RDS::DBProxyTargetGroup takes no Tags (CloudFormation rejects them).
    untaggable = ["AWS::RDS::DBProxyTargetGroup"]
    cdk.Tags.of(app).add("app", APP_NAME, exclude_resource_types=untaggable)
    cdk.Tags.of(app).add("stage", config.stage, exclude_resource_types=untaggable)

    network = NetworkStack(
        app,
        stack_name(config.stage, "Network"),
        config=config,
        description=f"{APP_NAME} {config.stage}: VPC, isolated subnets, VPC endpoints",
    )
    data = DataStack(
        app,
        stack_name(config.stage, "Data"),
        config=config,
        vpc=network.vpc,
        secrets_manager_endpoint=network.secrets_manager_endpoint,
        description=f"{APP_NAME} {config.stage}: Aurora Serverless v2 PostgreSQL, RDS Proxy",
    )
    storage = StorageStack(
        app,
        stack_name(config.stage, "Storage"),
        config=config,
        description=f"{APP_NAME} {config.stage}: private assets bucket, access logs, lifecycle rules",
    )
    network.limit_s3_endpoint_to(storage.bucket)  # the network stack then deploys after storage
    processing = ProcessingStack(
        app,
        stack_name(config.stage, "Processing"),
        config=config,
        bucket=storage.bucket,
        functions=FUNCTIONS,  # every event processor's queue, DLQ and alarm (core.queues)
        description=f"{APP_NAME} {config.stage}: media queue and DLQ, upload notifications, malware scans, alarms",
    )
    api = ApiStack(
        app,
        stack_name(config.stage, "Api"),
        config=config,
        vpc=network.vpc,
        ipv6_egress=network.ipv6_egress,
        db_clients=data.db_clients,
        proxy=data.proxy,
        cluster=data.cluster,
        database_ready=data.ready_for_functions,
        assets_bucket=storage.bucket,
        cdn=storage.cdn.signing,
        queues=processing.queues,
        mediaconvert_role=processing.mediaconvert_role,
        functions=FUNCTIONS,
        description=f"{APP_NAME} {config.stage}: REST API, functions, layers, WAF",
    )
    monitoring = MonitoringStack(
        app,
        stack_name(config.stage, "Monitoring"),
        config=config,
        functions=FUNCTIONS,
        function_names={spec.name: function_name(config, spec) for spec in FUNCTIONS},
        api_name=api.rest.api.rest_api_name,
        cluster_identifier=data.cluster_identifier,
        proxy_name=data.proxy.db_proxy_name if data.proxy is not None else None,
        description=f"{APP_NAME} {config.stage}: alarms to an SNS topic, dashboard",
    )
    for alarm in processing.dlq_alarms:
        monitoring.route(alarm)
    return {
        "network": network,
        "data": data,
        "storage": storage,
        "processing": processing,
        "api": api,
        "monitoring": monitoring,
    }


def main() -> None:
    try:
        app = build_app()
    except ValueError as exc:  # a bad stage or stage setting: say so without a traceback
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    app.synth()


if __name__ == "__main__":
    main()
