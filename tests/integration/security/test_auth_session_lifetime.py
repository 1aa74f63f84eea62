"""Issue 14.6: a sign-in has an absolute lifetime (SESSION_MAX_AGE_S, 30 days from login), carried across
refresh-token rotations: a refresh after it is 401 and no token outlives it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.client import Answer, call

DAY = timedelta(days=1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[timedelta], None]:
    """Moves the auth function's clock forward (the access tokens' own `exp` stays on the real clock)."""
    start = datetime.now(UTC)

    def move_to(offset: timedelta) -> None:
        monkeypatch.setattr("auth.logic._now", lambda: start + offset)

    move_to(timedelta(0))
    return move_to


def refresh(token: str) -> Answer:
    return call("POST", "/api/v1/auth/refresh", {"refresh_token": token})


def test_a_refresh_chain_ends_30_days_after_login(db: str, clock: Callable[[timedelta], None]) -> None:
    signed_in = call(
        "POST", "/api/v1/auth/register", {"email": "ada@example.com", "username": "ada", "password": "p" * 10}
    ).body
    token = signed_in["refresh_token"]
    for day in (10, 20, 29):  # each refresh well within its own token's 30 days
        clock(day * DAY)
        answer = refresh(token)
        assert answer.status == 200, (day, answer.body)
        token = answer.body["refresh_token"]
    clock(30 * DAY + timedelta(seconds=1))
    ended = refresh(token)
    assert ended.status == 401 and ended.error_code == "unauthorized"
    clock(30 * DAY + timedelta(seconds=1))
    again = call("POST", "/api/v1/auth/login", {"email": "ada@example.com", "password": "p" * 10})
    assert again.status == 200  # signing in again starts a new session with its own 30 days


def test_no_token_outlives_the_session(db: str, clock: Callable[[timedelta], None]) -> None:
    from sqlalchemy import text

    from core import db as core_db

    signed_in = call(
        "POST", "/api/v1/auth/register", {"email": "bob@example.com", "username": "bob", "password": "p" * 10}
    ).body
    clock(30 * DAY - timedelta(minutes=5))
    last = refresh(signed_in["refresh_token"])
    assert last.status == 200
    assert 0 < last.body["expires_in"] <= 300
    claims = jwt.decode(last.body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 300
    with core_db.get_engine().connect() as conn:
        ends, expires = conn.execute(
            text(
                "SELECT s.created_at + interval '30 days', r.expires_at FROM refresh_tokens r "
                "JOIN auth_sessions s ON s.id = r.session_id WHERE r.used_at IS NULL"
            )
        ).one()
    assert expires <= ends
