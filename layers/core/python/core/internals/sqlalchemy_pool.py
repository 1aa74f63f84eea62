"""SQLAlchemy's pool internals: the only module that reaches into them.

Written against SQLAlchemy 2.1.9 (`WRITTEN_AGAINST`, pinned in layers/deps/requirements.txt);
tests/unit/internals/test_sqlalchemy_contract.py checks each internal below.

- `skip_pre_ping_when`: `core.db.read` checks the pooled connection out without the pool's
  pre-ping (one round trip saved per read; a dropped connection is handled by running the read
  again). SQLAlchemy has no public switch per checkout: with `pool_pre_ping=True` the pool calls
  `pool._dialect._do_ping_w_event(dbapi_connection)` on every checkout of a pooled connection,
  which calls `self.do_ping(dbapi_connection)`, looked up on the dialect instance. So the engine's
  dialect gets an instance attribute `do_ping` that answers True (alive) while `skip()` is true
  and calls the dialect's own `do_ping` otherwise. `create_engine` sets `pool._dialect` to
  `engine.dialect`, so the pool sees the replacement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

LIBRARY = "sqlalchemy"
WRITTEN_AGAINST = "2.1.9"

TOUCHES = {
    "sqlalchemy.pool.Pool._dialect": "the dialect the pool pings with: engine.dialect",
    "sqlalchemy.engine.default.DefaultDialect._do_ping_w_event": "the pool's pre-ping calls self.do_ping",
    "sqlalchemy.engine.default.DefaultDialect.do_ping": "replaced on the engine's dialect instance",
}


def skip_pre_ping_when(engine: Engine, skip: Callable[[], bool]) -> None:
    """The pool's pre-ping answers "alive" without a round trip while `skip()` is true."""
    dialect: Any = engine.dialect
    pessimistic_ping = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        return True if skip() else bool(pessimistic_ping(dbapi_connection))

    setattr(dialect, "do_ping", do_ping)  # noqa: B010 - the pool calls the dialect's ping
