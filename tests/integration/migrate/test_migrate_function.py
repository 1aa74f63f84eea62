import pytest
from sqlalchemy.engine import Engine

from core.migrations import head
from migrate.handler import handler
from tests.conftest import reset_app_state


def test_migrate_function_applies_head(db: str, owner_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # `migrate` connects as the owner (CDK gives it the master user), every other function as the app's role.
    monkeypatch.setenv("DATABASE_URL", owner_engine.url.render_as_string(hide_password=False))
    reset_app_state()
    try:
        assert handler({}, None) == {"revision": head()}
    finally:
        monkeypatch.undo()
        reset_app_state()
