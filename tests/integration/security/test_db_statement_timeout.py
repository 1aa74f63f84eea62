"""Issue 14.6: a server-side statement_timeout on the role the application connects as (set by a
migration, so no SET is ever sent and no RDS Proxy connection is pinned); a statement over it is
cancelled by PostgreSQL and answers 503 with Retry-After instead of hanging."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from core import db as core_db
from core.migrations import alembic_config, current, head, upgrade
from tests.client import call
from tests.conftest import reset_app_state

REVISION = "0007_statement_timeout"
PROBE = "app_probe"  # an ordinary role, as `app` is on Aurora (NOSUPERUSER, a member of rds_superuser)


def _before(revision: str) -> str:
    from alembic.script import ScriptDirectory

    parent = ScriptDirectory.from_config(alembic_config()).get_revision(revision).down_revision
    assert isinstance(parent, str)
    return parent


def _show_timeout(engine: Engine) -> str:
    engine.dispose()  # a new session: role defaults apply when a session starts
    with engine.connect() as conn:
        return str(conn.execute(text("SHOW statement_timeout")).scalar_one())


@pytest.fixture
def app_role(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The application connecting as an ordinary role that applied the migrations itself."""
    from alembic import command

    admin = core_db.get_engine()
    command.downgrade(alembic_config(admin), _before(REVISION))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE ROLE {PROBE} LOGIN"))
        conn.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {PROBE}"))
    url = make_url(db).set(username=PROBE).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        monkeypatch.setenv("DATABASE_URL", url)
        reset_app_state()
        yield engine
    finally:
        engine.dispose()
        monkeypatch.undo()
        reset_app_state()
        upgrade(core_db.get_engine())
        with core_db.get_engine().begin() as conn:
            conn.execute(text(f"DROP OWNED BY {PROBE}"))
            conn.execute(text(f"DROP ROLE {PROBE}"))


def test_the_migration_sets_statement_timeout_on_the_role_it_runs_as(app_role: Engine) -> None:
    assert _show_timeout(app_role) == "0"
    assert upgrade(app_role) == head()
    assert _show_timeout(app_role) == "5s"
    with app_role.begin() as conn:
        settings = conn.execute(
            text(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                "WHERE r.rolname = current_user AND s.setdatabase = 0"
            )
        ).scalar_one()
    assert "statement_timeout=5s" in settings


def test_a_local_superuser_is_left_without_it(db: str) -> None:
    """Locally the embedded server's only role is the superuser `postgres`, which also seeds the benchmarks'
    million posts: the migration leaves superusers alone (Aurora has none)."""
    assert current(core_db.get_engine()) == head()
    assert _show_timeout(core_db.get_engine()) == "0"


def test_a_statement_over_the_timeout_is_cancelled_and_answers_503(
    app_role: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(app_role)
    with app_role.begin() as conn:  # the same role-level mechanism, shortened so the test is quick
        conn.execute(text(f"ALTER ROLE {PROBE} SET statement_timeout = '200ms'"))
    reset_app_state()
    name = f"t{uuid.uuid4().hex[:10]}"
    signed_in = call("POST", "/api/v1/auth/register", {"email": f"{name}@x.io", "username": name, "password": "p" * 10})
    assert signed_in.status == 201, signed_in.body

    def slow_me(session: Any, user_id: uuid.UUID) -> Any:
        session.execute(text("SELECT pg_sleep(5)"))
        raise AssertionError("the statement was not cancelled")

    monkeypatch.setattr("auth.logic.get_me", slow_me)
    started = time.perf_counter()
    answer = call("GET", "/api/v1/auth/me", token=signed_in.body["access_token"])
    elapsed = time.perf_counter() - started
    assert answer.status == 503 and answer.error_code == "unavailable", answer.body
    assert int(answer.headers["Retry-After"][0]) >= 1
    assert elapsed < 3, elapsed
    # the connection is still good for the next request
    monkeypatch.undo()
    assert call("GET", "/api/v1/auth/me", token=signed_in.body["access_token"]).status == 200
