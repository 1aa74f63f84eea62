"""Functions: connection-safe reserved concurrency, a `live` alias (SnapStart where a stage pays), JSON logs, X-Ray."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_synth import Synth

from core.routes import FUNCTIONS, function
from infra_cdk.concurrency import HEADROOM, connection_budget, reserved_concurrency
from infra_cdk.config import stage_config
from infra_cdk.constructs.function_factory import ALIAS_KINDS, SNAPSTART_KINDS

pytestmark = pytest.mark.infra


def _catalog(synth: Synth) -> dict[str, tuple[str, dict[str, Any]]]:
    """Catalog name -> (logical id, properties) of each catalog function."""
    prefix = f"social-{synth.stage}-"
    out = {}
    for logical_id, fn in synth.resources("api", "AWS::Lambda::Function").items():
        name = fn["Properties"].get("FunctionName")
        if isinstance(name, str) and name.startswith(prefix):
            out[name.removeprefix(prefix)] = (logical_id, fn["Properties"])
    return out


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_reserved_concurrency_cannot_exhaust_the_proxy_pool(stage: str) -> None:
    config = stage_config(stage)
    reserved = reserved_concurrency(config, FUNCTIONS)
    assert set(reserved) == {spec.name for spec in FUNCTIONS if spec.uses_db}
    pool = config.db_max_connections * config.proxy_max_connections_percent // 100
    assert connection_budget(config) == pool - HEADROOM
    assert sum(reserved.values()) <= pool - HEADROOM
    assert all(n >= 1 for n in reserved.values())
    # The SQS event source may scale the media function to its queue's max_concurrency: never throttled.
    media_queue = function("media").queue
    assert media_queue is not None and reserved["media"] == media_queue.max_concurrency
    # Nor are the AI worker's database steps while the worker runs (one step at a time per invocation).
    worker_queue = function("ai_worker").queue
    assert worker_queue is not None and reserved["ai_steps"] == worker_queue.max_concurrency


def test_too_few_connections_fail_the_synth() -> None:
    with pytest.raises(ValueError, match="dbMaxConnections"):
        reserved_concurrency(stage_config("dev", {"dbMaxConnections": 20}), FUNCTIONS)


def test_functions_carry_their_reserved_concurrency(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        expected = reserved_concurrency(stage_config(synth.stage), FUNCTIONS)
        catalog = _catalog(synth)
        reserved = {name: props.get("ReservedConcurrentExecutions") for name, (_, props) in catalog.items()}
        assert reserved == {name: expected.get(name) for name in catalog}  # none without the database


def test_snapstart_only_where_the_stage_pays_for_it() -> None:
    assert stage_config("dev").snap_start is False  # 17.79 USD/month of snapshot cache (docs/decisions.md)
    assert stage_config("staging").snap_start is True and stage_config("prod").snap_start is True
    assert stage_config("dev", {"snapStart": True}).snap_start is True


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_request_path_functions_run_behind_the_live_alias(stage: str, request: pytest.FixtureRequest) -> None:
    """Every stage keeps the `live` alias on the request path; SnapStart only where `snapStart` is on."""
    synth: Synth = request.getfixturevalue(stage)
    snap_start = stage_config(stage).snap_start
    assert snap_start is (stage == "prod")
    catalog = _catalog(synth)
    versions = synth.resources("api", "AWS::Lambda::Version")
    aliases = synth.resources("api", "AWS::Lambda::Alias")
    aliased = {}
    for alias in aliases.values():
        props = alias["Properties"]
        version = versions[props["FunctionVersion"]["Fn::GetAtt"][0]]
        assert version["Properties"]["FunctionName"] == props["FunctionName"]
        aliased[props["FunctionName"]["Ref"]] = props["Name"]
    for spec in FUNCTIONS:
        logical_id, props = catalog[spec.name]
        if spec.kind in SNAPSTART_KINDS:
            assert aliased[logical_id] == "live", spec.name
            if snap_start:
                assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}, spec.name
            else:
                assert "SnapStart" not in props, spec.name
        else:
            assert "SnapStart" not in props, spec.name
    assert len([spec for spec in FUNCTIONS if spec.kind in SNAPSTART_KINDS]) == 9
    # Every API, authorizer and event function has its live alias (the canaries move it).
    assert len(aliases) == len([spec for spec in FUNCTIONS if spec.kind in ALIAS_KINDS]) >= 12
    # A deploy deletes the version it supersedes (no Retain): no old snapshot stays cached and billed.
    for version in versions.values():
        assert version.get("DeletionPolicy", "Delete") == "Delete"
        assert version.get("UpdateReplacePolicy", "Delete") == "Delete"
    # Nothing on the request path invokes $LATEST: every integration and the authorizer name an alias.
    alias_ids = set(aliases)
    for method in synth.resources("api", "AWS::ApiGateway::Method").values():
        integration = method["Properties"].get("Integration", {})
        if integration.get("Type") == "AWS_PROXY":
            assert alias_ids & set(json.dumps(integration["Uri"]).replace('"', " ").split()), method
    (authorizer,) = synth.resources("api", "AWS::ApiGateway::Authorizer").values()
    assert alias_ids & set(json.dumps(authorizer["Properties"]["AuthorizerUri"]).replace('"', " ").split())
    # API Gateway may invoke the aliases (the permission names the alias, not the function).
    # (Event processors' aliases need none: their event source mappings invoke with the function's role;
    # nor do invoked functions': their invokers' roles are granted the alias, tests/infra/test_infra_egress.py.)
    event_functions = {catalog[spec.name][0] for spec in FUNCTIONS if spec.kind in ("events", "invoked")}
    request_aliases = {k for k, a in aliases.items() if a["Properties"]["FunctionName"]["Ref"] not in event_functions}
    permissions = synth.resources("api", "AWS::Lambda::Permission").values()
    assert {p["Properties"]["FunctionName"].get("Ref") for p in permissions} >= request_aliases


def test_json_logs_kept_30_days_and_xray_tracing(dev: Synth) -> None:
    groups = dev.resources("api", "AWS::Logs::LogGroup")
    for name, (_, props) in _catalog(dev).items():
        assert props["LoggingConfig"]["LogFormat"] == "JSON", name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        group = groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == 30, name
        assert group["Properties"]["LogGroupName"] == f"/aws/lambda/social-dev-{name}", name
