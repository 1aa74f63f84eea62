"""`make cost`: what each stage costs idle, what each main route costs per million requests, and
what realtime rooms cost per 1,000 users online 8 hours a day (WebSocket messages and connection
minutes, the AI worker's Lambda and queues; `RealtimeLoad` states every assumption).

Idle cost is read from the synthesized templates of every stage (Aurora minimum capacity per
serverless instance, RDS Proxy minimum, interface endpoints per AZ, WAF, alarms per alarm metric,
dashboards, secrets, keys, the SnapStart snapshot cache of each published version); per-request
cost from the warm durations `bench/warm.py` measures and the memory configured in the template.
Prices are settings (PRICE_* environment variables) whose defaults are public us-east-1 list
prices; the API Gateway REST request price is included.

Staging and prod refuse to synthesize with the placeholder CloudFront key, so where cdk.json has
no key this script synthesizes them with a throwaway public key generated for the run (its
private half is never kept); no price depends on the key.

    .venv/bin/python -m bench.cost [--stages dev,staging,prod] [--skip-warm]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.report import run

HOURS = 730  # a month, as AWS prices it
SECONDS = HOURS * 3600

PRICES = {  # USD, us-east-1 list prices; override with PRICE_<NAME>=...
    "AURORA_ACU_HOUR": 0.12,
    "PROXY_ACU_HOUR": 0.015,
    "PROXY_MIN_ACU": 8,
    "ENDPOINT_AZ_HOUR": 0.01,
    "WAF_ACL_MONTH": 5.0,
    "WAF_RULE_MONTH": 1.0,
    "ALARM_MONTH": 0.10,  # per standard-resolution alarm metric: a metric-math alarm bills each metric it reads
    "ALARM_HIGH_RES_MONTH": 0.30,  # per high-resolution (period < 60 s) alarm metric
    "DASHBOARD_MONTH": 3.0,
    "SECRET_MONTH": 0.40,
    "KMS_KEY_MONTH": 1.0,
    "AURORA_STORAGE_GB_MONTH": 0.10,
    "LOG_GB_MONTH": 0.03,
    "LAMBDA_ARM_GB_SECOND": 0.0000133334,
    "LAMBDA_REQUEST": 0.20 / 1e6,
    # SnapStart for Python: the snapshot cache per GB-second of the function's memory while a
    # published version is active (at least 3 hours), and each restore per GB of memory.
    "SNAPSTART_CACHE_GB_SECOND": 0.0000015046,
    "SNAPSTART_RESTORE_GB": 0.0001397998,
    "APIGW_REST_REQUEST": 3.50 / 1e6,
    # WebSocket APIs: per message sent or received (metered in 32 KB units; first billion a month),
    # and per connection minute (https://aws.amazon.com/api-gateway/pricing/).
    "APIGW_WS_MESSAGE": 1.00 / 1e6,
    "APIGW_WS_CONNECTION_MINUTE": 0.25 / 1e6,
    # SQS per request (each 64 KB of payload is one request): standard and FIFO queues
    # (https://aws.amazon.com/sqs/pricing/).
    "SQS_REQUEST": 0.40 / 1e6,
    "SQS_FIFO_REQUEST": 0.50 / 1e6,
    # AWS AppConfig (feature flags, core.flags): each configuration request to its data plane, and
    # each time a caller receives a configuration (a new container's first call, and after each flip).
    "APPCONFIG_REQUEST": 0.0000002,
    "APPCONFIG_RECEIVED": 0.0008,
    # AWS Budgets: an account's first two active budgets are free, each further one 0.02 USD/day.
    "BUDGET_DAY": 0.02,
}
PRICES |= {k: float(os.environ[f"PRICE_{k}"]) for k in PRICES if f"PRICE_{k}" in os.environ}

# route of bench/warm.py -> the function that serves it
ROUTE_FUNCTIONS = {
    "GET /posts": "posts",
    "POST /posts": "posts",
    "POST /posts/{id}/likes": "likes",
    "GET /posts/{id}/comments": "comments",
    "GET /auth/me": "auth",
    "GET /assets": "assets",
    "POST /rooms/{id}/messages": "rooms",
    "GET /rooms/{id}/messages": "rooms",
}


def throwaway_public_key_pem() -> str:
    """A fresh RSA 2048 public key whose private half is dropped at once: only for pricing a stage
    that refuses the placeholder CloudFront key; nothing can ever be signed with it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def synth_templates(stage: str) -> list[dict[str, Any]]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from infra_cdk.app import build_app, cdk_json_context
    from infra_cdk.constructs.cdn import PLACEHOLDER_KEY_STAGES

    settings = {}
    configured = cdk_json_context().get("stages", {}).get(stage, {})
    if stage not in PLACEHOLDER_KEY_STAGES and not configured.get("cdnPublicKeyPem"):
        print(f"[cost] {stage}: a throwaway CloudFront public key (cdk.json has none)", file=sys.stderr, flush=True)
        settings["cdnPublicKeyPem"] = throwaway_public_key_pem()
    with tempfile.TemporaryDirectory() as outdir:
        # offline: the RDS CA bundle is in node_modules
        assembly = build_app(stage, outdir=outdir, settings=settings).synth()
        return [stack.template for stack in assembly.stacks]


def _resources(templates: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r for t in templates for r in t.get("Resources", {}).values() if r.get("Type") == type_]


def idle_lines(templates: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
    """(item, USD per month, why) for everything that bills while nobody calls the API."""
    lines: list[tuple[str, float, str]] = []
    for cluster in _resources(templates, "AWS::RDS::DBCluster"):
        scaling = cluster["Properties"].get("ServerlessV2ScalingConfiguration", {})
        min_acu = float(scaling.get("MinCapacity", 0.5))
        instances = (
            sum(
                1
                for i in _resources(templates, "AWS::RDS::DBInstance")
                if i["Properties"].get("DBInstanceClass") == "db.serverless"
            )
            or 1
        )
        cost = min_acu * instances * PRICES["AURORA_ACU_HOUR"] * HOURS
        why = f"{instances} serverless instance(s) x {min_acu} ACU minimum" + (" (auto-pause)" if min_acu == 0 else "")
        lines.append(("Aurora Serverless v2 minimum capacity", cost, why))
        lines.append(("Aurora storage (1 GB idle)", PRICES["AURORA_STORAGE_GB_MONTH"], "grows with data"))
    proxies = _resources(templates, "AWS::RDS::DBProxy")
    if proxies:
        cost = len(proxies) * PRICES["PROXY_MIN_ACU"] * PRICES["PROXY_ACU_HOUR"] * HOURS
        lines.append(("RDS Proxy minimum", cost, f"{len(proxies)} proxy, billed for at least 8 ACU"))
    interface = [
        e
        for e in _resources(templates, "AWS::EC2::VPCEndpoint")
        if e["Properties"].get("VpcEndpointType") == "Interface"
    ]
    if interface:
        azs = sum(len(e["Properties"].get("SubnetIds", [])) or 1 for e in interface)
        lines.append(
            (
                "Interface VPC endpoints",
                azs * PRICES["ENDPOINT_AZ_HOUR"] * HOURS,
                f"{len(interface)} endpoints in {azs} endpoint-AZs",
            )
        )
    gateways = _resources(templates, "AWS::EC2::EgressOnlyInternetGateway")
    if gateways:  # listed so that the way out is seen to cost nothing (a NAT gateway would not)
        lines.append(
            (
                "Egress-only internet gateway (IPv6 out)",
                0.0,
                f"{len(gateways)} gateway: no hourly charge; data out billed per GB like any other",
            )
        )
    for acl in _resources(templates, "AWS::WAFv2::WebACL"):
        rules = len(acl["Properties"].get("Rules", []))
        lines.append(
            ("WAF web ACL", PRICES["WAF_ACL_MONTH"] + rules * PRICES["WAF_RULE_MONTH"], f"1 ACL, {rules} rules")
        )
    lines.append(alarm_line(_resources(templates, "AWS::CloudWatch::Alarm")))
    lines.extend(appconfig_lines(templates))
    lines.extend(budget_lines(templates))
    lines.append(snapstart_line(templates))
    counts = Counter(r["Type"] for t in templates for r in t.get("Resources", {}).values())
    for type_, item, price in (
        ("AWS::CloudWatch::Dashboard", "CloudWatch dashboards", PRICES["DASHBOARD_MONTH"]),
        ("AWS::SecretsManager::Secret", "Secrets Manager secrets", PRICES["SECRET_MONTH"]),
        ("AWS::KMS::Key", "KMS keys", PRICES["KMS_KEY_MONTH"]),
    ):
        if counts[type_]:
            lines.append((item, counts[type_] * price, f"{counts[type_]} x {price:.2f}"))
    logs = counts["AWS::Logs::LogGroup"]
    lines.append(
        ("Log storage", logs * 0.0, f"{logs} log groups; pay per GB stored ({PRICES['LOG_GB_MONTH']}/GB-month)")
    )
    return lines


def alarm_metrics(alarm: dict[str, Any]) -> tuple[int, bool]:
    """(alarm metrics billed, high resolution) of one alarm: CloudWatch bills alarms per metric, so
    a metric-math alarm bills every metric it reads (its expressions are free); an alarm on one
    metric bills one. High resolution: a period under 60 seconds."""
    props = alarm["Properties"]
    queries = props.get("Metrics")
    if not queries:
        return 1, int(props.get("Period", 60)) < 60
    stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
    periods = [int(stat.get("Period", 60)) for stat in stats] + [int(q["Period"]) for q in queries if "Period" in q]
    return len(stats), bool(periods) and min(periods) < 60


def alarm_line(alarms: list[dict[str, Any]]) -> tuple[str, float, str]:
    standard = high_res = 0
    for alarm in alarms:
        metrics, high = alarm_metrics(alarm)
        if high:
            high_res += metrics
        else:
            standard += metrics
    usd = standard * PRICES["ALARM_MONTH"] + high_res * PRICES["ALARM_HIGH_RES_MONTH"]
    why = f"{len(alarms)} alarms, {standard + high_res} alarm metrics x {PRICES['ALARM_MONTH']:.2f}"
    if high_res:
        why += f" ({high_res} high-resolution x {PRICES['ALARM_HIGH_RES_MONTH']:.2f})"
    return ("CloudWatch alarms", usd, why)


def appconfig_lines(templates: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
    """Feature flags in AppConfig bill per request, nothing idle: what one warm container costs."""
    if not _resources(templates, "AWS::AppConfig::ConfigurationProfile"):
        return []
    max_ages = [
        int(fn["Properties"]["Environment"]["Variables"]["FEATURE_FLAGS_MAX_AGE_S"])
        for fn in _resources(templates, "AWS::Lambda::Function")
        if "FEATURE_FLAGS_MAX_AGE_S" in fn["Properties"].get("Environment", {}).get("Variables", {})
    ]
    if not max_ages:
        return [("AWS AppConfig feature flags", 0.0, "deployed, read by no function here (no endpoint): baseline")]
    polls = SECONDS / min(max_ages) * PRICES["APPCONFIG_REQUEST"]
    why = (
        f"no idle charge; per warm container {polls:.4f} USD/month (a request every {min(max_ages)} s) "
        f"+ {PRICES['APPCONFIG_RECEIVED']} USD per configuration received (each new container, each flip)"
    )
    return [("AWS AppConfig feature flags", 0.0, why)]


def budget_amounts(templates: list[dict[str, Any]]) -> list[float]:
    """The monthly limit (USD) of each AWS Budgets cost budget of the stage."""
    return [
        float(b["Properties"]["Budget"]["BudgetLimit"]["Amount"])
        for b in _resources(templates, "AWS::Budgets::Budget")
        if b["Properties"]["Budget"].get("BudgetLimit")
    ]


def budget_lines(templates: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
    count = len(_resources(templates, "AWS::Budgets::Budget"))
    if not count:
        return []
    further = PRICES["BUDGET_DAY"] * HOURS / 24
    why = f"{count} budget: free among an account's first two, else {further:.2f} USD/month each"
    return [("AWS Budgets", 0.0, why)]


def snapstart_versions(templates: list[dict[str, Any]]) -> list[int]:
    """Memory (MB) of each published version whose function has SnapStart: one cached snapshot each.
    (CloudFormation deletes a superseded version once a deploy has moved the alias: one per function.)"""
    memory = []
    for template in templates:
        resources = template.get("Resources", {})
        for version in resources.values():
            if version.get("Type") != "AWS::Lambda::Version":
                continue
            ref = version["Properties"].get("FunctionName")
            fn = resources.get(ref.get("Ref", "")) if isinstance(ref, dict) else None
            if fn and fn["Properties"].get("SnapStart", {}).get("ApplyOn") == "PublishedVersions":
                memory.append(int(fn["Properties"].get("MemorySize", 128)))
    return memory


def snapstart_cache_usd(memory_mb: list[int]) -> float:
    """A month of snapshot cache: each version's memory in GB, every second of the month."""
    return sum(mb / 1024 for mb in memory_mb) * SECONDS * PRICES["SNAPSTART_CACHE_GB_SECOND"]


def snapstart_restore_usd_per_million(memory_mb: list[int]) -> float:
    """A million restores (cold starts), at the average memory of the SnapStart functions."""
    if not memory_mb:
        return 0.0
    return sum(memory_mb) / len(memory_mb) / 1024 * PRICES["SNAPSTART_RESTORE_GB"] * 1e6


def snapstart_line(templates: list[dict[str, Any]]) -> tuple[str, float, str]:
    memory = snapstart_versions(templates)
    if not memory:
        return ("Lambda SnapStart cache", 0.0, "SnapStart off: no snapshot cached, no restore billed")
    gb = sum(mb / 1024 for mb in memory)
    restores = snapstart_restore_usd_per_million(memory)
    why = f"{len(memory)} versions, {gb:g} GB x {HOURS} h; restores {restores:.2f} USD per million cold starts"
    return ("Lambda SnapStart cache", snapstart_cache_usd(memory), why)


def function_memory(templates: list[dict[str, Any]]) -> dict[str, int]:
    memory = {}
    for fn in _resources(templates, "AWS::Lambda::Function"):
        name = fn["Properties"].get("FunctionName")
        if isinstance(name, str):
            memory[name.rsplit("-", 1)[-1]] = int(fn["Properties"].get("MemorySize", 128))
    return memory


def warm_durations() -> dict[str, dict[str, float]]:
    return dict(run("bench.warm", "--calls", "200", timeout_s=600))


PUBLIC_ROUTES = {"GET /posts", "GET /posts/{id}/comments"}
AUTHORIZER_BILLED_MS = 1  # its warm work is ~0.2 ms plus one indexed lookup (bench/authorizer.py)


def _lambda_usd(billed_ms: int, mb: int) -> float:
    """One invocation: compute at arm64 GB-second prices plus the request price."""
    return billed_ms / 1000 * mb / 1024 * PRICES["LAMBDA_ARM_GB_SECOND"] + PRICES["LAMBDA_REQUEST"]


def per_million(durations: dict[str, dict[str, float]], memory: dict[str, int]) -> list[tuple[str, float, float]]:
    """Warm p50 measured locally (the cloud adds a network hop to the proxy), billed per started ms."""
    rows = []
    for route, measured in durations.items():
        usd = _lambda_usd(math.ceil(measured["p50_ms"]), memory.get(ROUTE_FUNCTIONS[route], 512))
        if route not in PUBLIC_ROUTES:  # the REQUEST authorizer runs too (no result caching)
            usd += _lambda_usd(AUTHORIZER_BILLED_MS, memory.get("authorizer", 512))
        rows.append((route, measured["p50_ms"], (usd + PRICES["APIGW_REST_REQUEST"]) * 1e6))
    return rows


@dataclass(frozen=True)
class RealtimeLoad:
    """Realtime rooms for `users` people online `hours_per_day`; rates are per user per online hour."""

    users: int = 1000
    hours_per_day: float = 8.0
    messages_sent: float = 6.0  # POST /messages: message.created to every subscriber of the room
    room_subscribers: float = 10.0  # connections subscribed to that room, the sender's included
    typing_sent: float = 6.0  # typing frames in (one per message), each out to the other subscribers
    pings: float = 12.0  # keep-alive every 5 min (API Gateway closes connections idle 10 min): in, pong out
    reconnects: float = 0.5  # a connection lasts at most 2 h; a new one subscribes again
    subscriptions: float = 5.0  # rooms subscribed per connection: subscribe in, subscribed out
    ai_replies: float = 1.0  # AI replies asked for (of the messages sent)
    deltas_per_reply: float = 40.0  # message.delta frames of one reply (coalesced to <= 10 a second)
    # balance.changed to the room master's connections after each reply's charge (issue 19.4)
    balance_frames_per_reply: float = 1.0
    reply_seconds: float = 8.0  # the AI worker's billed time per reply (it waits on the stream)
    # The worker's database steps, each a synchronous invoke of `ai_steps` in the VPC (core.ai_steps):
    # the job's read, a check (and the audience) before each delta, the final store. Billed time of
    # one (a few indexed statements plus a round trip to the proxy); `python -m bench.ai_steps`
    # measures the local in-process and invoked times.
    db_step_ms: float = 15.0

    @property
    def user_hours(self) -> float:
        """Online user-hours in a month (HOURS / 24 days)."""
        return self.users * self.hours_per_day * HOURS / 24

    @property
    def frames_in(self) -> float:
        """WebSocket messages from clients per user-hour."""
        return self.typing_sent + self.pings + self.reconnects * self.subscriptions

    @property
    def frames_out(self) -> float:
        """WebSocket messages to clients per user-hour: each room event to every subscriber (an AI reply:
        its pending message.created, its deltas and message.completed), typing to the others, pongs, and
        balance.changed to the master after each AI reply's charge."""
        events = self.messages_sent + self.ai_replies * (1 + self.deltas_per_reply + 1)
        typing = self.typing_sent * (self.room_subscribers - 1)
        balance = self.ai_replies * self.balance_frames_per_reply  # to the master alone, not the room
        return events * self.room_subscribers + typing + balance + self.pings + self.reconnects * self.subscriptions


REALTIME_LOAD = RealtimeLoad()
# The memory of the AI worker and of `ai_steps` (its database steps) when a template lacks them; the
# templates' own sizes are used otherwise (the worker's QueueSpec, the `invoked` kind's).
AI_WORKER_MB_ASSUMED = 512
AI_DB_STEPS_MB_ASSUMED = 512


def realtime_lines(memory: dict[str, int], load: RealtimeLoad = REALTIME_LOAD) -> list[tuple[str, float, str]]:
    """(item, USD per month, why) of realtime rooms and AI replies for `load`, at the configured memory.
    Model tokens are billed by the provider on top (not priced here)."""
    hours = load.user_hours
    frames = (load.frames_in + load.frames_out) * hours
    minutes = 60 * hours
    replies = load.ai_replies * hours
    worker_mb = memory.get("ai_worker", AI_WORKER_MB_ASSUMED)
    worker_gb_s = replies * load.reply_seconds * worker_mb / 1024
    steps_mb = memory.get("ai_steps", AI_DB_STEPS_MB_ASSUMED)
    steps = replies * (load.deltas_per_reply + 2)  # start, a delta step per delta, finish
    steps_gb_s = steps * load.db_step_ms / 1000 * steps_mb / 1024
    per_user = f"{load.frames_in + load.frames_out:g} frames per user-hour"
    sized = "" if "ai_worker" in memory else " (assumed: not in the catalog yet)"
    return [
        (
            "WebSocket messages",
            frames * PRICES["APIGW_WS_MESSAGE"],
            f"{frames / 1e6:.1f} M ({per_user}: {load.frames_in:g} in, {load.frames_out:g} out)",
        ),
        ("WebSocket connection minutes", minutes * PRICES["APIGW_WS_CONNECTION_MINUTE"], f"{minutes / 1e6:.1f} M"),
        (
            "AI worker Lambda",
            worker_gb_s * PRICES["LAMBDA_ARM_GB_SECOND"] + replies * PRICES["LAMBDA_REQUEST"],
            f"{replies / 1e3:.0f} k replies x {load.reply_seconds:g} s x {worker_mb} MB{sized}",
        ),
        (
            "AI reply jobs (SQS standard)",
            replies * 3 * PRICES["SQS_REQUEST"],
            "send, receive, delete per reply",
        ),
        (
            "AI worker's database steps (Lambda)",
            steps_gb_s * PRICES["LAMBDA_ARM_GB_SECOND"] + steps * PRICES["LAMBDA_REQUEST"],
            f"{steps / 1e6:.1f} M invokes of ai_steps in the VPC ({load.deltas_per_reply + 2:g} per reply) x "
            f"{load.db_step_ms:g} ms x {steps_mb} MB{'' if 'ai_steps' in memory else ' (assumed)'}",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stages", default="dev,staging,prod")
    parser.add_argument("--skip-warm", action="store_true", help="idle costs only")
    args = parser.parse_args(argv)
    memory: dict[str, int] = {}
    for stage in args.stages.split(","):
        print(f"[cost] synthesizing {stage}", file=sys.stderr, flush=True)
        templates = synth_templates(stage)
        memory = memory or function_memory(templates)
        lines = idle_lines(templates)
        print(f"\n{stage}: idle monthly cost")
        for item, usd, why in lines:
            print(f"  {item:<40} {usd:>9.2f} USD  {why}")
        total = sum(u for _, u, _ in lines)
        print(f"  {'total':<40} {total:>9.2f} USD")
        for amount in budget_amounts(templates):
            print(
                f"  {'budget (monthlyBudgetUsd, AWS Budgets)':<40} {amount:>9.2f} USD  idle is {total / amount:.0%} "
                "of it; alerts at 80 % forecast, 100 % actual"
            )
    load = REALTIME_LOAD
    print(
        f"\nrealtime rooms per month, {load.users:,} users online {load.hours_per_day:g} h a day "
        f"({load.messages_sent:g} messages, {load.ai_replies:g} AI reply, {load.typing_sent:g} typing and "
        f"{load.pings:g} pings per user-hour; {load.room_subscribers:g} subscribers per room; "
        "model tokens not included)"
    )
    rt = realtime_lines(memory, load)
    for item, usd, why in rt:
        print(f"  {item:<40} {usd:>9.2f} USD  {why}")
    print(f"  {'total':<40} {sum(u for _, u, _ in rt):>9.2f} USD")
    if not args.skip_warm:
        print("\nper million requests (API Gateway REST + Lambda arm64 at the configured memory, warm p50)")
        for route, ms, usd in per_million(warm_durations(), memory):
            print(f"  {route:<34} {ms:>6.2f} ms  {usd:>7.2f} USD")
    return 0


if __name__ == "__main__":
    sys.exit(main())
