"""Applies Alembic migrations: run by a CDK trigger before the API functions update.

Any failure raises, so the trigger (and the deploy) fails rather than serve a
half-migrated schema.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from core import db
from core.migrations import upgrade

logger = Logger(service="migrate")


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    target = (event or {}).get("revision", "head")
    logger.info("applying migrations", extra={"target": target})
    revision = upgrade(db.get_engine(), target)
    logger.info("migrations applied", extra={"revision": revision})
    return {"revision": revision}
