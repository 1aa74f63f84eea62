"""Reserved concurrency: every database connection a function can open, counted in advance.

Each Lambda container holds at most one connection (core.db: pool_size=1, max_overflow=0),
so a function's reserved concurrency is its connection ceiling. The ceilings of all the
database functions add up to at most the proxy's pool, minus headroom:

    budget = floor(db_max_connections * proxy_max_connections_percent / 100) - HEADROOM

`migrate` gets 1 and `media` its SQS event source's maximum concurrency; the rest of the
budget is split by weight (the authorizer and the feed see the most traffic). With the dev
defaults: floor(100 * 90 / 100) - 5 = 85; 85 - 1 - 10 = 74 shared by weight 17.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.routes import FunctionSpec
from infra_cdk.config import StageConfig
from infra_cdk.stacks.processing import MAX_CONCURRENCY as MEDIA_MAX_CONCURRENCY
from infra_cdk.stacks.processing import MEDIA

# Connections left over for operators (psql), the secret-rotation function and a deploy's overlap.
HEADROOM = 5
FIXED: Mapping[str, int] = {"migrate": 1, MEDIA: MEDIA_MAX_CONCURRENCY}
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


def connection_budget(config: StageConfig) -> int:
    """Connections the functions may hold together: the proxy's pool minus HEADROOM."""
    return config.db_max_connections * config.proxy_max_connections_percent // 100 - HEADROOM


def reserved_concurrency(config: StageConfig, specs: Iterable[FunctionSpec]) -> dict[str, int]:
    """Reserved concurrency of each database function; their sum never exceeds the budget."""
    db_specs = [spec for spec in specs if spec.uses_db]
    fixed = {spec.name: FIXED[spec.name] for spec in db_specs if spec.name in FIXED}
    shared = [spec.name for spec in db_specs if spec.name not in FIXED]
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
