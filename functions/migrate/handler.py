"""Applies Alembic migrations: run by a CDK trigger before the API functions update.

Any failure raises, so the trigger (and the deploy) fails rather than serve a
half-migrated schema.
"""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from core import db
from core.errors import Unavailable
from core.migrations import upgrade

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

logger = Logger(service="migrate")


# On a first deploy the proxy's targets may take a few minutes to become available.
CONNECT_ATTEMPTS = 12
CONNECT_BACKOFF_S = 10.0


def _select_one(connection: Connection) -> None:
    connection.exec_driver_sql("SELECT 1")


def _wait_for_database() -> None:
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        try:
            db.read(_select_one)  # through the engine Alembic then uses (the lean connection is not ours)
            return
        except Unavailable:
            if attempt == CONNECT_ATTEMPTS:
                raise
            logger.warning("database not reachable yet", extra={"attempt": attempt})
            time.sleep(CONNECT_BACKOFF_S)


@coldstart.background_entry
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    target = (event or {}).get("revision", "head")
    _wait_for_database()
    logger.info("applying migrations", extra={"target": target})
    revision = upgrade(db.get_engine(), target)
    logger.info("migrations applied", extra={"revision": revision})
    return {"revision": revision}
