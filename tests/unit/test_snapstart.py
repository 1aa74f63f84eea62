"""SnapStart: core.db primes before the snapshot and drops the snapshot's connections after a restore."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from core import db


def test_after_restore_hook_drops_the_snapshots_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Callable[..., Any]] = []
    before: list[Callable[..., Any]] = []
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_after_restore = registered.append  # type: ignore[attr-defined]
    fake.register_before_snapshot = before.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)

    db._register_snapstart_hooks()
    assert registered == [db.drop_connections] and before == [db.prime]

    class Engine:
        disposed = False

        def dispose(self) -> None:
            self.disposed = True

    class Lean:
        closed = False

        def close(self) -> None:
            self.closed = True

    engine, lean = Engine(), Lean()
    monkeypatch.setattr(db, "_engine", engine)
    monkeypatch.setattr(db, "_lean", lean)
    registered[0]()  # what the runtime does after restoring the snapshot
    assert engine.disposed and lean.closed
    assert db._engine is engine and db._lean is None  # the primed engine stays, its connections go


def test_without_the_runtime_module_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    db._register_snapstart_hooks()  # no error outside Lambda


def test_priming_builds_the_engine_without_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy  # noqa: F401 - as in a function whose handler loaded the ORM

    monkeypatch.setattr(db, "_engine", None)
    opened: list[object] = []
    monkeypatch.setattr(db.pgwire, "open_socket", lambda *args, **kwargs: opened.append(args))
    db.prime()
    engine: Any = db._engine
    assert engine is not None and "pg8000.native" in sys.modules
    assert opened == [] and engine.pool.checkedout() == 0 and engine.pool.checkedin() == 0
    engine.dispose()
