"""Alembic environment: runs on the engine handed over in config.attributes."""

from __future__ import annotations

from alembic import context

from core.models.registry import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    from core.db import get_engine

    engine = get_engine()

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        # The role's statement_timeout (0007) is for requests; long DDL must not be cancelled by it.
        # SET LOCAL ends with this transaction, so the pooled connection goes back as it came.
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        context.run_migrations()
    connection.commit()
