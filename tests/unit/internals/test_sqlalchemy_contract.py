"""Contracts of the SQLAlchemy internals core.internals.sqlalchemy_pool relies on (one test per
internal it lists in TOUCHES). A SQLAlchemy upgrade that changes one fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.pool import QueuePool

from core.internals import sqlalchemy_pool


def _engine(tmp_path: Path) -> Any:
    return create_engine(f"sqlite:///{tmp_path / 'ping.db'}", poolclass=QueuePool, pool_size=1, pool_pre_ping=True)


def test_the_pool_pings_with_the_engines_dialect(tmp_path: Path) -> None:
    """sqlalchemy.pool.Pool._dialect is engine.dialect, so replacing do_ping on it reaches the pool."""
    engine = _engine(tmp_path)
    try:
        assert engine.pool._dialect is engine.dialect
    finally:
        engine.dispose()


def test_the_pre_ping_calls_do_ping_on_the_dialect_instance(tmp_path: Path) -> None:
    """sqlalchemy.engine.default.DefaultDialect._do_ping_w_event calls self.do_ping, and
    sqlalchemy.engine.default.DefaultDialect.do_ping replaced on the instance is what runs: skipped
    while asked to, the dialect's own ping otherwise."""
    engine = _engine(tmp_path)
    pings: list[object] = []
    own_ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_connection: pings.append(dbapi_connection) or own_ping(dbapi_connection)  # type: ignore[method-assign]
    skipping = [False]
    sqlalchemy_pool.skip_pre_ping_when(engine, lambda: skipping[0])
    try:
        engine.connect().close()  # a fresh connection: no ping
        assert pings == []
        engine.connect().close()  # a pooled one: pinged
        assert len(pings) == 1
        skipping[0] = True
        engine.connect().close()
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_the_pg8000_dialect_pings_the_default_way() -> None:
    from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

    assert PGDialect_pg8000._do_ping_w_event is DefaultDialect._do_ping_w_event
    assert "do_ping" in DefaultDialect._do_ping_w_event.__code__.co_names
