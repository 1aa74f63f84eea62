"""Issue 14.3: failed logins are throttled per email and client together, so strangers cannot lock an
owner out, and the counter is one atomic statement, so parallel guesses get no more than the limit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from core import db as core_db
from tests.client import Answer, call
from tests.conftest import reset_app_state

PASSWORD = "correct horse battery"
OWNER = "owner@example.com"
LIMIT = 5  # LOGIN_MAX_FAILURES_PER_EMAIL: per email and client


def register(email: str = OWNER, name: str = "owner") -> None:
    answer = call("POST", "/api/v1/auth/register", {"email": email, "username": name, "password": PASSWORD})
    assert answer.status == 201, answer.body


def login(ip: str, password: str = PASSWORD, email: str = OWNER) -> Answer:
    return call("POST", "/api/v1/auth/login", {"email": email, "password": password}, ip=ip)


def test_a_strangers_failures_do_not_lock_the_owner_out(db: str) -> None:
    register()
    for _ in range(LIMIT + 3):
        assert login("198.51.100.66", "guessing").status in (401, 429)
    assert login("198.51.100.66", "guessing").status == 429
    owner = login("203.0.113.10")
    assert owner.status == 200, owner.body


def test_the_same_client_is_still_throttled(db: str) -> None:
    register()
    for _ in range(LIMIT):
        assert login("198.51.100.66", "guessing").status == 401
    blocked = login("198.51.100.66")  # even the right password: the guesses are spent
    assert blocked.status == 429 and blocked.error_code == "rate_limited"
    assert 1 <= int(blocked.headers["Retry-After"][0]) <= 900


def test_ipv6_clients_count_per_64_prefix(db: str) -> None:
    """One subscriber holds a whole /64: rotating addresses inside it buys no more guesses."""
    register()
    for host in range(1, LIMIT + 1):
        assert login(f"2001:db8:1:2::{host}", "guessing").status == 401
    assert login("2001:db8:1:2:ffff::9").status == 429
    assert login("2001:db8:1:3::1").status == 200


def test_a_successful_login_clears_that_clients_failures(db: str) -> None:
    register()
    for _ in range(2):
        for _ in range(LIMIT - 1):
            assert login("192.0.2.8", "typo").status == 401
        assert login("192.0.2.8").status == 200


def test_successful_logins_do_not_count_against_a_shared_address(db: str) -> None:
    """An office behind one NAT address: its people sign in all day."""
    for i in range(25):
        register(f"staff{i}@example.com", f"staff{i}")
        assert login("192.0.2.200", email=f"staff{i}@example.com").status == 200


def test_emails_are_not_stored_in_the_counters(db: str) -> None:
    register()
    login("192.0.2.9", "guessing")
    with core_db.get_engine().connect() as conn:
        keys = conn.execute(text("SELECT key FROM rate_limit_windows")).scalars().all()
    assert keys and not any("owner" in key for key in keys)


@pytest.fixture
def parallel_pool(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The container's engine with enough connections for every thread to run at once."""
    monkeypatch.setenv("DB_POOL_SIZE", "20")
    reset_app_state()
    yield
    monkeypatch.undo()
    reset_app_state()


def test_parallel_wrong_attempts_get_at_most_the_limit_of_guesses(parallel_pool: None) -> None:
    from auth import logic
    from core.errors import RateLimited, Unauthorized

    register()
    attempts = 20
    start = threading.Barrier(attempts)

    def attempt(_: int) -> str:
        start.wait()
        try:
            logic.login(core_db.session_scope, OWNER, "guessing", "198.51.100.77")
        except Unauthorized:
            return "guessed"
        except RateLimited:
            return "throttled"
        return "signed in"

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        outcomes = list(pool.map(attempt, range(attempts)))
    assert outcomes.count("guessed") == LIMIT, outcomes
    assert outcomes.count("throttled") == attempts - LIMIT
