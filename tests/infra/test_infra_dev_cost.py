"""dev built to cost almost nothing idle: each choice a stage setting (docs/decisions.md).

The stage settings default in infra_cdk/config.py: dev has no RDS Proxy (functions reach the
cluster endpoint with IAM tokens and the RDS CA layer), no interface endpoints, no WAF, no
dashboard, no SnapStart; prod keeps them all. The proxy path is prod's
(tests/infra/test_infra_prod.py). `make cost` (bench/cost.py) prices the same templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra_synth import PARTS, Synth

from core.routes import FUNCTIONS
from infra_cdk.config import stage_config
from infra_cdk.constructs.function_factory import ALIAS_KINDS

pytestmark = pytest.mark.infra


def _synth_dev(overrides: dict[str, object], outdir: Path) -> Synth:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra_cdk import nag
    from infra_cdk.app import build_stacks, cdk_json_context, stack_name

    base = cdk_json_context()
    settings = {**base["stages"]["dev"], **overrides}
    app = cdk.App(context={**base, "stage": "dev"}, outdir=str(outdir))
    build_stacks(app, stage_config("dev", settings))
    nag.add_checks(app)
    assembly = app.synth()  # an unacknowledged cdk-nag finding raises here
    raw = {part: assembly.get_stack_by_name(stack_name("dev", part.capitalize())).template for part in PARTS}
    templates = {part: Template.from_json(t) for part, t in raw.items()}
    return Synth(stage="dev", app=app, assembly=assembly, outdir=outdir, templates=templates, raw=raw)


def test_dev_settings_and_the_other_stages_keep_everything() -> None:
    dev = stage_config("dev")
    assert (dev.min_acu, dev.interface_endpoints, dev.waf, dev.rds_proxy, dev.dashboard, dev.snap_start) == (
        0,
        False,
        False,
        False,
        False,
        False,
    )
    for stage in ("staging", "prod"):
        config = stage_config(stage)
        assert config.min_acu > 0 and config.interface_endpoints and config.waf and config.rds_proxy
        assert config.dashboard and config.snap_start


def test_dev_idles_without_endpoints_waf_or_a_running_database(dev: Synth, prod: Synth) -> None:
    assert dev.resources("api", "AWS::WAFv2::WebACL") == {}
    assert [e["Properties"]["VpcEndpointType"] for e in dev.resources("network", "AWS::EC2::VPCEndpoint").values()] == [
        "Gateway"
    ]
    (cluster,) = dev.resources("data", "AWS::RDS::DBCluster").values()
    assert cluster["Properties"]["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert cluster["Properties"]["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] == 600
    assert len(prod.resources("network", "AWS::EC2::VPCEndpoint")) == 5  # S3 gateway + 4 interface
    assert len(prod.resources("api", "AWS::WAFv2::WebACL")) == 1


def test_without_the_proxy_functions_use_the_cluster_endpoint_with_iam(dev: Synth) -> None:
    assert dev.resources("data", "AWS::RDS::DBProxy") == {}
    (cluster_id, cluster) = next(iter(dev.resources("data", "AWS::RDS::DBCluster").items()))
    assert cluster["Properties"]["EnableIAMDatabaseAuthentication"] is True
    db_functions = 0
    for fn in dev.resources("api", "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "DB_HOST" in env:
            db_functions += 1
            assert "EndpointAddress" in json.dumps(env["DB_HOST"]) and env["DB_IAM_AUTH"] == "true"
    assert db_functions >= 8
    policies = json.dumps([p["Properties"] for p in dev.resources("api", "AWS::IAM::Policy").values()])
    assert "rds-db:connect" in policies and "dbuser:" in policies
    # The db-clients group may reach the cluster's port directly; no proxy alarm.
    ingress = json.dumps(dev.raw["data"]["Resources"])
    assert "functions to the cluster (no proxy)" in ingress
    alarms = [a["Properties"]["AlarmName"] for a in dev.resources("monitoring", "AWS::CloudWatch::Alarm").values()]
    assert "social-dev-proxy-connections-high" not in alarms and "social-dev-aurora-acu-at-max" in alarms
    # Migrations still run on deploy, before the API functions.
    (trigger_id,) = dev.resources("api", "Custom::Trigger")
    for fn in dev.resources("api", "AWS::Lambda::Function").values():
        name = fn["Properties"].get("FunctionName")
        if name in ("social-dev-posts", "social-dev-auth"):
            assert trigger_id in fn.get("DependsOn", []), name
    assert cluster_id.startswith("Cluster")
    # Aurora pauses only without sessions: idle ones close after 5 minutes (prod keeps the default).
    (group,) = dev.resources("data", "AWS::RDS::DBClusterParameterGroup").values()
    assert group["Properties"]["Parameters"] == {"idle_session_timeout": "300000"}


def test_without_the_proxy_functions_trust_the_rds_ca_from_a_layer(dev: Synth, prod: Synth) -> None:
    # Their region's RDS CAs without the proxy; RDS Proxy's roots with it (test_infra_packaging.py).
    (layer_id,) = [k for k in dev.resources("api", "AWS::Lambda::LayerVersion") if k.startswith("RdsCaLayer")]
    for fn in dev.resources("api", "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        layers = json.dumps(fn["Properties"].get("Layers", []))
        if "DB_HOST" in env:
            assert "/opt/rds-ca/regions/" in json.dumps(env["DB_CA_BUNDLE"])
            assert layer_id in layers
        else:
            assert "DB_CA_BUNDLE" not in env and layer_id not in layers
    for fn in prod.resources("api", "AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        assert env.get("DB_CA_BUNDLE") == ("/opt/rds-ca/proxy-bundle.pem" if "DB_HOST" in env else None)


def test_the_master_user_gets_iam_login_once_through_the_data_api(dev: Synth, prod: Synth) -> None:
    """For migrate, which logs in as the master user; the functions' app_rw gets rds_iam from migration 0009."""
    (cluster,) = dev.resources("data", "AWS::RDS::DBCluster").values()
    assert cluster["Properties"]["EnableHttpEndpoint"] is True
    (grant,) = [
        r
        for k, r in dev.raw["data"]["Resources"].items()
        if k.startswith("GrantIamLogin") and r["Type"] == "Custom::AWS"
    ]
    create = json.dumps(grant["Properties"]["Create"])
    assert "ExecuteStatement" in create and "GRANT rds_iam TO app" in create
    assert 'service\\":\\"@aws-sdk/client-rds-data' in create  # a client name the handler can load
    assert "Update" not in grant["Properties"] and "Delete" not in grant["Properties"]
    # It runs after the writer instance exists; the api stack (and its migration trigger) after it.
    instances = dev.resources("data", "AWS::RDS::DBInstance")
    assert set(instances) <= set(grant.get("DependsOn", []))
    # (read from the manifest: asking jsii for the artifacts' dependencies caches them as plain
    # CloudArtifacts, without .template, for every later test of the session)
    manifest = json.loads((dev.outdir / "manifest.json").read_text())["artifacts"]
    assert dev.stack_name("data") in manifest[dev.stack_name("api")]["dependencies"]
    (prod_cluster,) = prod.resources("data", "AWS::RDS::DBCluster").values()
    assert not prod_cluster["Properties"].get("EnableHttpEndpoint")
    assert not [k for k in prod.raw["data"]["Resources"] if k.startswith("GrantIamLogin")]


def test_dev_has_alarms_but_no_dashboard(dev: Synth, prod: Synth) -> None:
    assert dev.resources("monitoring", "AWS::CloudWatch::Dashboard") == {}
    assert dev.resources("monitoring", "AWS::CloudWatch::Alarm")
    assert len(prod.resources("monitoring", "AWS::CloudWatch::Dashboard")) == 1


def _templates(synth: Synth) -> list[dict[str, Any]]:
    """Every stack's template, as `make cost` prices them (processing included)."""
    return [stack.template for stack in synth.assembly.stacks]


def _lines(synth: Synth) -> dict[str, tuple[float, str]]:
    from bench.cost import idle_lines

    lines = idle_lines(_templates(synth))
    assert len({item for item, _, _ in lines}) == len(lines)
    return {item: (usd, why) for item, usd, why in lines}


def test_make_cost_dev_idles_at_most_5_usd_without_snapstart(dev: Synth) -> None:
    lines = _lines(dev)
    assert sum(usd for usd, _ in lines.values()) <= 5.0
    assert lines["Lambda SnapStart cache"] == (0.0, "SnapStart off: no snapshot cached, no restore billed")


def test_make_cost_prices_prod_snapstart_from_the_functions_memory(prod: Synth) -> None:
    from bench.cost import HOURS, PRICES, snapstart_restore_usd_per_million, snapstart_versions

    snapstart = [
        int(fn["Properties"]["MemorySize"])
        for fn in prod.resources("api", "AWS::Lambda::Function").values()
        if fn["Properties"].get("SnapStart") == {"ApplyOn": "PublishedVersions"}
    ]
    assert len(snapstart) == 9 and sorted(snapstart_versions(_templates(prod))) == sorted(snapstart)
    # the cache: each published version's memory in GB, every second of the month
    expected = sum(mb / 1024 for mb in snapstart) * HOURS * 3600 * PRICES["SNAPSTART_CACHE_GB_SECOND"]
    usd, why = _lines(prod)["Lambda SnapStart cache"]
    assert usd == pytest.approx(expected) and round(usd, 2) == 17.79  # 9 x 0.5 GB x 2,628,000 s x 0.0000015046
    # restores: per GB of memory each; a million cold starts at 512 MB
    assert snapstart_restore_usd_per_million(snapstart) == pytest.approx(0.5 * PRICES["SNAPSTART_RESTORE_GB"] * 1e6)
    assert "restores 69.90 USD per million cold starts" in why


def test_make_cost_bills_alarms_per_metric(dev: Synth, prod: Synth) -> None:
    """A metric-math alarm bills every metric it reads: the media DLQ alarm (MAX of two DLQs) bills two, and
    so does the realtime one (room events and room forks)."""
    from bench.cost import PRICES, alarm_metrics

    for synth in (dev, prod):
        alarms = [
            r for t in _templates(synth) for r in t["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
        ]
        metrics = {a["Properties"]["AlarmName"]: alarm_metrics(a) for a in alarms}
        assert metrics[f"social-{synth.stage}-media-dlq-not-empty"] == (2, False)
        assert metrics[f"social-{synth.stage}-realtime-dlq-not-empty"] == (2, False)
        assert metrics[f"social-{synth.stage}-api-5xx-rate"] == (1, False)
        total = sum(n for n, _ in metrics.values())
        # A canary alarm (staging, prod) reads a function's Errors and Duration: two metrics each.
        canary = [name for name in metrics if name.endswith("-canary")]
        assert all(metrics[name] == (2, False) for name in canary)
        assert len(canary) == (0 if synth.stage == "dev" else len([s for s in FUNCTIONS if s.kind in ALIAS_KINDS]))
        assert total == len(alarms) + 2 + len(canary)
        usd, why = _lines(synth)["CloudWatch alarms"]
        assert usd == pytest.approx(total * PRICES["ALARM_MONTH"])
        assert why == f"{len(alarms)} alarms, {total} alarm metrics x 0.10"
    assert alarm_metrics({"Properties": {"MetricName": "X", "Period": 10}}) == (1, True)


ROOT = Path(__file__).resolve().parents[2]


def _readme_cost_rows() -> dict[str, list[str]]:
    """The rows of the README's tables in its Cost section: first cell -> the other cells."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Cost") :]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) >= 2 and not set(cells[0]) <= {"-", " "}:
            rows.setdefault(cells[0], cells[1:])
    return rows


def test_the_readme_idle_totals_agree_with_make_cost_to_the_cent(dev: Synth, prod: Synth) -> None:
    dev_total = round(sum(usd for usd, _ in _lines(dev).values()), 2)
    prod_total = round(sum(usd for usd, _ in _lines(prod).values()), 2)
    assert _readme_cost_rows()["total"][:2] == [f"{dev_total:.2f}", f"{prod_total:.2f}"], (
        "README's idle cost table says otherwise than `make cost`: update its lines and total"
    )


def test_make_cost_prices_realtime_per_1000_users_as_the_readme_and_decisions_say(dev: Synth) -> None:
    """WebSocket messages and connection minutes, the AI worker's Lambda and queues (issue 18.7)."""
    from bench.cost import PRICES, REALTIME_LOAD, function_memory, realtime_lines

    load = REALTIME_LOAD
    assert (load.users, load.hours_per_day) == (1000, 8)
    assert load.user_hours == pytest.approx(1000 * 8 * 730 / 24)
    memory = function_memory(_templates(dev))
    lines = {item: (usd, why) for item, usd, why in realtime_lines(memory)}
    frames = (load.frames_in + load.frames_out) * load.user_hours
    assert lines["WebSocket messages"][0] == pytest.approx(frames * PRICES["APIGW_WS_MESSAGE"])
    assert lines["WebSocket connection minutes"][0] == pytest.approx(60 * load.user_hours * 0.25 / 1e6)
    # the README's table and the decision's figures are make cost's, to the cent
    total = sum(usd for usd, _ in lines.values())
    readme = {first: cells[0] for first, cells in _realtime_rows()[1:]}  # after the header row
    assert readme == {**{item: f"{usd:.2f}" for item, (usd, _) in lines.items()}, "total": f"{total:.2f}"}
    # the database steps are priced from the real pair: ai_steps' size, one invoke per delta plus two
    steps = "AI worker's database steps (Lambda)"
    assert memory["ai_steps"] == 512 and f"({load.deltas_per_reply + 2:g} per reply)" in lines[steps][1]
    assert "(assumed)" not in lines[steps][1]
    assert dict(_realtime_rows()[1:])[steps][1] == lines[steps][1]
    decisions = (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8")
    entry = decisions[decisions.index("## make cost prices realtime rooms per 1,000 users") :]
    for item, (usd, _) in lines.items():
        assert f" {usd:.2f}" in entry, item
    assert f"{total:.2f} USD" in entry


def _realtime_rows() -> list[tuple[str, list[str]]]:
    """The rows of the README's realtime cost table (the one after "Realtime rooms per month")."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("Realtime rooms per month for 1,000 users") :]
    rows: list[tuple[str, list[str]]] = []
    for line in section.splitlines()[1:]:
        if rows and not line.startswith("|"):
            break
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set(cells[0]) <= {"-", " "}:
                rows.append((cells[0], cells[1:]))
    return rows
