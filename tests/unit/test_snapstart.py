"""SnapStart: core.db registers an after-restore hook that drops the snapshot's connections."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from core import db


def test_after_restore_hook_disposes_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[Callable[..., Any]] = []
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)

    db._register_snapstart_hook()
    assert registered == [db.dispose_engine]

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
    assert db._engine is None and db._lean is None


def test_without_the_runtime_module_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    db._register_snapstart_hook()  # no error outside Lambda
