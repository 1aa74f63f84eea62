"""Issue 14.6: a server-side statement_timeout on the role the functions connect as (set by a migration,
so no SET is ever sent and no RDS Proxy connection is pinned); a statement over it is cancelled by
PostgreSQL and answers 503 with Retry-After instead of hanging. Since 0009_app_role that role is
app_rw; the owner, which migrates, has none (tests/integration/security/test_db_role.py runs the
migrations as an ordinary owner, as on Aurora)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core import db as core_db
from local.postgres import APP_ROLE
from tests.client import call
from tests.conftest import reset_app_state


def _show_timeout(engine: Engine) -> str:
    engine.dispose()  # a new session: role defaults apply when a session starts
    with engine.connect() as conn:
        return str(conn.execute(text("SHOW statement_timeout")).scalar_one())


def test_the_functions_role_has_a_5s_statement_timeout_and_the_owner_none(db: str, owner_engine: Engine) -> None:
    assert _show_timeout(core_db.get_engine()) == "5s"
    with owner_engine.connect() as conn:
        settings = conn.execute(
            text(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                "WHERE r.rolname = :role AND s.setdatabase = 0"
            ),
            {"role": APP_ROLE},
        ).scalar_one()
    assert "statement_timeout=5s" in settings
    # locally the owner is the superuser `postgres`, which also seeds the benchmarks' million posts
    assert _show_timeout(owner_engine) == "0"


@pytest.fixture
def short_timeout(db: str, owner_engine: Engine) -> Iterator[None]:
    """The same role-level mechanism, shortened so the test is quick."""
    with owner_engine.begin() as conn:
        conn.execute(text(f"ALTER ROLE {APP_ROLE} SET statement_timeout = '200ms'"))
    reset_app_state()
    try:
        yield
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text(f"ALTER ROLE {APP_ROLE} SET statement_timeout = '5s'"))
        reset_app_state()


def test_a_statement_over_the_timeout_is_cancelled_and_answers_503(
    short_timeout: None, monkeypatch: pytest.MonkeyPatch
) -> None:
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
