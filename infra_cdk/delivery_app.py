"""The pipeline's AWS side, an app of its own: `make deploy-delivery` (cdk.json context `delivery`).

    "delivery": {"githubRepository": "<owner>/<repo>", "stages": ["dev", "staging", "prod"],
                 "githubOidcProviderArn": "<arn, when the account already has GitHub's provider>"}

Deployed once per account by an administrator, never by the pipeline (infra_cdk/stacks/delivery.py).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk

from infra_cdk import nag
from infra_cdk.app import cdk_json_context
from infra_cdk.config import APP_NAME, STAGES
from infra_cdk.stacks.delivery import DeliveryStack

STACK_NAME = f"{APP_NAME.capitalize()}-Delivery"
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$")


def build_delivery_app(*, outdir: str | None = None, settings: Mapping[str, Any] | None = None) -> cdk.App:
    app = cdk.App(context=cdk_json_context(), outdir=outdir)
    delivery = {**(app.node.try_get_context("delivery") or {}), **(settings or {})}
    repository = str(delivery.get("githubRepository") or "")
    if not _REPOSITORY.match(repository):
        raise ValueError(f"context delivery.githubRepository must be <owner>/<repo>, not {repository!r}")
    stages = list(delivery.get("stages") or STAGES)
    if not stages or any(stage not in STAGES for stage in stages):
        raise ValueError(f"context delivery.stages: some of {', '.join(STAGES)}")
    provider = delivery.get("githubOidcProviderArn") or None
    if provider is not None and not _PROVIDER_ARN.match(str(provider)):
        raise ValueError(
            "context delivery.githubOidcProviderArn: the ARN of IAM's token.actions.githubusercontent.com provider"
        )
    DeliveryStack(
        app,
        STACK_NAME,
        repository=repository,
        stages=stages,
        existing_provider_arn=provider,
        description=f"{APP_NAME}: GitHub Actions OIDC provider and one deploy role per stage ({repository})",
    )
    cdk.Tags.of(app).add("app", APP_NAME)
    nag.add_checks(app)
    return app


def main() -> None:
    try:
        app = build_delivery_app()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    app.synth()


if __name__ == "__main__":
    main()
