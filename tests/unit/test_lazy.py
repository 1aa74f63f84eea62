"""core.lazy: a module registered by lazy_module runs on first attribute access, once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.lazy import lazy_module


def test_a_lazy_module_runs_on_first_use_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "heavy.py").write_text(
        "import builtins\nbuiltins.LAZY_RUNS = getattr(builtins, 'LAZY_RUNS', 0) + 1\nVALUE = 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import builtins

    try:
        heavy = lazy_module("lazypkg.heavy")
        assert getattr(builtins, "LAZY_RUNS", 0) == 0  # registered, not run
        assert lazy_module("lazypkg.heavy") is heavy
        assert heavy.VALUE == 42 and builtins.LAZY_RUNS == 1  # type: ignore[attr-defined]
        from lazypkg import heavy as again  # type: ignore[import-not-found]

        assert again.VALUE == 42 and builtins.LAZY_RUNS == 1  # type: ignore[attr-defined]
    finally:
        for name in ("lazypkg", "lazypkg.heavy"):
            sys.modules.pop(name, None)
        if hasattr(builtins, "LAZY_RUNS"):
            del builtins.LAZY_RUNS


def test_an_unknown_module_fails_at_once() -> None:
    with pytest.raises(ModuleNotFoundError):
        lazy_module("core.no_such_module")


def test_the_rooms_function_loads_no_other_routes_logic_at_import() -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    child = (
        "import sys, types, rooms.handler\n"  # a lazy module is not of type ModuleType until its first use
        "names = ('rooms.invitations', 'rooms.messages', 'rooms.forks', 'rooms.replies', 'rooms.groups',"
        " 'rooms.group_invitations', 'core.room_forks')\n"
        "print(sorted(m for m in names if type(sys.modules.get(m)) is types.ModuleType))"
    )
    env = {"PYTHONPATH": f"{root / 'layers/core/python'}:{root / 'functions'}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_snapstart_priming_loads_every_lazy_module() -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    child = (
        "import sys, types, rooms.handler\n"
        "from core import db\n"
        "db.prime()\n"
        "print([m for m in ('rooms.invitations', 'rooms.forks', 'core.room_forks')"
        " if type(sys.modules.get(m)) is not types.ModuleType])"
    )
    env = {
        "PYTHONPATH": f"{root / 'layers/core/python'}:{root / 'functions'}",
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgresql+pg8000://app@127.0.0.1:9/none",
    }  # built, never connected
    out = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
