"""Reserved concurrency: every database connection a function can open, counted in advance.

Each Lambda container holds at most one connection (core.db: pool_size=1, max_overflow=0),
so a function's reserved concurrency is its connection ceiling. The ceilings of all the
database functions add up to at most the proxy's pool, minus headroom:

    budget = floor(db_max_connections * proxy_max_connections_percent / 100) - HEADROOM

`migrate` gets 1 and each event processor in the VPC (`media`) its SQS event source's maximum
concurrency (`QueueSpec.max_concurrency`); the rest of the
budget is split by weight (the authorizer and the feed see the most traffic). With the dev
defaults: floor(100 * 90 / 100) - 5 = 85; 85 - 1 - 10 = 74 shared by weight 17.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.routes import FunctionSpec
from infra_cdk.config import StageConfig

# Connections left over for operators (psql), the secret-rotation function and a deploy's overlap.
HEADROOM = 5
FIXED: Mapping[str, int] = {"migrate": 1}
WEIGHTS: Mapping[str, int] = {
    "authorizer": 3,
    "posts": 3,
    "auth": 2,
    "likes": 2,
    "comments": 2,
    "assets": 2,
    "rooms": 2,
    "ops": 1,
}
DEFAULT_WEIGHT = 1


def fixed_concurrency(spec: FunctionSpec, specs: Iterable[FunctionSpec] = ()) -> int | None:
    """A database function's own ceiling: an event processor's is its event source's maximum
    concurrency; an invoked one's (`ai_steps`), its invokers' (each invocation of the AI worker
    waits on one step at a time), so a step is never throttled while its invoker runs."""
    if spec.queue is not None:
        return spec.queue.max_concurrency
    invokers = [s for s in specs if spec.name in s.invokes]
    if invokers:
        return sum(s.queue.max_concurrency if s.queue is not None else 1 for s in invokers)
    return FIXED.get(spec.name)


def connection_budget(config: StageConfig) -> int:
    """Connections the functions may hold together: the proxy's pool minus HEADROOM."""
    return config.db_max_connections * config.proxy_max_connections_percent // 100 - HEADROOM


def reserved_concurrency(config: StageConfig, specs: Iterable[FunctionSpec]) -> dict[str, int]:
    """Reserved concurrency of each database function; their sum never exceeds the budget."""
    specs = list(specs)
    db_specs = [spec for spec in specs if spec.uses_db]
    ceilings = {spec.name: fixed_concurrency(spec, specs) for spec in db_specs}
    fixed = {name: n for name, n in ceilings.items() if n is not None}
    shared = [name for name, n in ceilings.items() if n is None]
    rest = connection_budget(config) - sum(fixed.values())
    weights = {name: WEIGHTS.get(name, DEFAULT_WEIGHT) for name in shared}
    total = sum(weights.values())
    reserved = {name: rest * weight // total for name, weight in weights.items()} if total else {}
    if rest < 0 or any(n < 1 for n in reserved.values()):
        raise ValueError(
            f"stages.{config.stage}.dbMaxConnections={config.db_max_connections} is too small to give every "
            f"database function a connection (budget {connection_budget(config)})"
        )
    return fixed | reserved
