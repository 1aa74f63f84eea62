"""Alembic environment: runs on the engine handed over in config.attributes."""

from __future__ import annotations

from alembic import context

from core.models.registry import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    from core.db import get_engine

    engine = get_engine()

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
