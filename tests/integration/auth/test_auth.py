"""Every row of API.md's Auth table and its error paths, through authorizer + handler."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core import db as core_db
from tests.client import Answer, call

PASSWORD = "correct horse battery"


def register(name: str = "ada", email: str | None = None, password: str = PASSWORD) -> Answer:
    return call(
        "POST",
        "/api/v1/auth/register",
        {"email": email or f"{name}@example.com", "username": name, "password": password},
    )


def login(email: str = "ada@example.com", password: str = PASSWORD, ip: str = "203.0.113.7") -> Answer:
    return call("POST", "/api/v1/auth/login", {"email": email, "password": password}, ip=ip)


def rows(sql: str) -> list[Any]:
    with core_db.get_engine().connect() as conn:
        return list(conn.execute(text(sql)).all())


def test_register_answers_tokens_and_me(db: str) -> None:
    answer = register()
    assert answer.status == 201
    body = answer.body
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user"]["email"] == "ada@example.com" and body["user"]["username"] == "ada"
    assert body["user"]["created_at"].endswith("Z")
    me = call("GET", "/api/v1/auth/me", token=body["access_token"])
    assert me.status == 200 and me.body == body["user"]
    assert me.headers["Cache-Control"] == ["no-store"]
    assert "password_hash" not in me.body


def test_password_is_stored_as_bcrypt(db: str) -> None:
    register()
    (stored,) = rows("SELECT password_hash FROM users")[0]
    assert stored.startswith("$2") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("email", "username"), [("ada@example.com", "other"), ("ADA@example.com", "other"), ("x@example.com", "ADA")]
)
def test_taken_email_or_username_is_409(db: str, email: str, username: str) -> None:
    assert register().status == 201
    answer = register(username, email=email)
    assert answer.status == 409 and answer.error_code == "conflict"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "username", "password"}),
        ({"email": "nope", "username": "ab", "password": "short"}, {"email", "username", "password"}),
        ({"email": "a@b.co", "username": "bad name!", "password": PASSWORD}, {"username"}),
        ({"email": "a@b.co", "username": "ada", "password": "x" * 1025}, {"password"}),
        ({"email": "a@b.co", "username": "ada", "password": PASSWORD, "admin": True}, {"admin"}),
        ({"email": 5, "username": ["x"], "password": None}, {"email", "username", "password"}),
    ],
)
def test_bad_fields_are_422_with_every_field(db: str, body: dict[str, Any], fields: set[str]) -> None:
    answer = call("POST", "/api/v1/auth/register", body)
    assert answer.status == 422 and answer.error_code == "validation_error"
    assert {d["field"] for d in answer.body["error"]["details"]} == fields


def test_password_of_exactly_72_bytes_is_fine(db: str) -> None:
    assert register(password="é" * 36).status == 201
    assert login(password="é" * 36).status == 200


def test_long_passwords_count_every_character(db: str) -> None:
    """Past bcrypt's 72 bytes the password is pre-hashed: accepted, and a change at its end matters."""
    long = "é" * 300 + "tail"
    assert register(password=long).status == 201
    assert login(password=long).status == 200
    assert login(password="é" * 300 + "tale").status == 401
    assert login(password="é" * 36).status == 401  # not truncated to its first 72 bytes


def test_body_that_is_not_json_is_400(db: str) -> None:
    answer = call("POST", "/api/v1/auth/login", raw_body="{not json")
    assert answer.status == 400 and answer.error_code == "bad_request"


def test_login_unknown_email_and_wrong_password_look_the_same(db: str) -> None:
    register()
    wrong = login(password="wrong password")
    unknown = login(email="nobody@example.com")
    assert wrong.status == unknown.status == 401
    assert wrong.body["error"]["code"] == unknown.body["error"]["code"] == "invalid_credentials"
    assert wrong.body["error"]["message"] == unknown.body["error"]["message"]
    too_long = login(password="x" * 100)
    assert too_long.status == 401 and too_long.error_code == "invalid_credentials"


def test_login_timing_does_not_reveal_accounts(db: str) -> None:
    register()
    login()  # warm up

    def timed(email: str) -> float:
        start = time.perf_counter()
        login(email=email, password="wrong password", ip=f"198.51.100.{uuid.uuid4().int % 200}")
        return time.perf_counter() - start

    known = sorted(timed("ada@example.com") for _ in range(5))[2]
    unknown = sorted(timed(f"{uuid.uuid4().hex}@example.com") for _ in range(5))[2]
    assert 0.33 < known / unknown < 3


def test_login_is_audited(db: str) -> None:
    register()
    login()
    login(password="nope")
    actions = [r[0] for r in rows("SELECT action FROM audit_events ORDER BY created_at")]
    assert actions == ["auth.login", "auth.login_failed"]


def test_audit_trail_is_append_only(db: str, owner_engine: Engine) -> None:
    register()
    login()
    # The functions' role may not even try (no UPDATE or DELETE on it); the owner meets the trigger.
    for engine, refusal in ((core_db.get_engine(), "permission denied"), (owner_engine, "append-only")):
        with pytest.raises(Exception, match=refusal), engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET action = 'x'"))
        with pytest.raises(Exception, match=refusal), engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))


def test_refresh_rotates_and_reuse_revokes_the_family(db: str) -> None:
    first = register().body
    second = call("POST", "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status == 200 and second.body["refresh_token"] != first["refresh_token"]
    assert call("GET", "/api/v1/auth/me", token=second.body["access_token"]).status == 200
    reuse = call("POST", "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert reuse.status == 401
    # the whole family is gone: the newest refresh token and every access token of the session
    assert call("POST", "/api/v1/auth/refresh", {"refresh_token": second.body["refresh_token"]}).status == 401
    assert call("GET", "/api/v1/auth/me", token=second.body["access_token"]).status == 401
    assert call("GET", "/api/v1/auth/me", token=first["access_token"]).status == 401
    assert [r[0] for r in rows("SELECT action FROM audit_events")] == ["auth.refresh_reuse"]


def test_unknown_refresh_token_is_401(db: str) -> None:
    assert call("POST", "/api/v1/auth/refresh", {"refresh_token": "made-up"}).status == 401


def test_logout_takes_effect_on_the_next_request(db: str) -> None:
    tokens = register().body
    other_session = login().body
    assert call("DELETE", "/api/v1/auth/logout", token=tokens["access_token"]).status == 204
    assert call("GET", "/api/v1/auth/me", token=tokens["access_token"]).status == 401
    assert call("POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}).status == 401
    # another sign-in of the same user is unaffected
    assert call("GET", "/api/v1/auth/me", token=other_session["access_token"]).status == 200
    assert "auth.logout" in [r[0] for r in rows("SELECT action FROM audit_events")]


def test_patch_me(db: str) -> None:
    token = register().body["access_token"]
    answer = call("PATCH", "/api/v1/auth/me", {"bio": "hello", "avatar_url": "https://cdn.example/a.png"}, token=token)
    assert answer.status == 200
    assert (answer.body["bio"], answer.body["avatar_url"]) == ("hello", "https://cdn.example/a.png")
    bad = call("PATCH", "/api/v1/auth/me", {"avatar_url": "javascript:alert(1)", "bio": "x" * 501}, token=token)
    assert bad.status == 422 and {d["field"] for d in bad.body["error"]["details"]} == {"avatar_url", "bio"}
    assert call("PATCH", "/api/v1/auth/me", {"email": "x@y.z"}, token=token).status == 422


def _forge(claims: dict[str, Any], key: str = "t" * 40, kid: str = "test-2", alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def test_bad_tokens_are_401(db: str) -> None:
    token = register().body["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    forged = [
        "garbage",
        token[:-4] + "AAAA",
        _forge({**claims, "exp": now - 10}),
        _forge({**claims, "aud": "someone-else"}),
        _forge({**claims, "iss": "someone-else"}),
        _forge(claims, key="w" * 40),
        _forge(claims, kid="unknown"),
        _forge({k: v for k, v in claims.items() if k != "sid"}),
        _forge({**claims, "sub": str(uuid.uuid4())}),
        unsigned,
        _forge(claims, alg="HS512"),
    ]
    for bad in forged:
        assert call("GET", "/api/v1/auth/me", token=bad).status == 401, bad
    assert call("GET", "/api/v1/auth/me").status == 401
    assert call("GET", "/api/v1/auth/me", headers={"Authorization": f"Basic {token}"}).status == 401


def test_rotated_out_key_still_verifies_until_removed(db: str) -> None:
    token = register().body["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    old = _forge(claims, key="o" * 40, kid="test-1")
    assert call("GET", "/api/v1/auth/me", token=old).status == 200


def test_repeated_failures_for_one_email_are_throttled_per_client(db: str) -> None:
    """Issue 14.3: per email and client together; tests/integration/security/test_auth_login_throttle.py has more."""
    register()
    for i in range(5):
        assert login(password="wrong", ip="198.51.100.1").status == 401
        assert login(password="wrong", ip=f"198.51.100.{10 + i}").status == 401
    blocked = login(ip="198.51.100.1")
    assert blocked.status == 429 and blocked.error_code == "rate_limited"
    assert 1 <= int(blocked.headers["Retry-After"][0]) <= 900
    assert login(ip="198.51.100.99").status == 200  # strangers' failures lock nobody out


def test_repeated_failures_from_one_ip_are_throttled(db: str) -> None:
    for i in range(20):
        assert login(email=f"u{i}@example.com", ip="192.0.2.1").status == 401
    blocked = login(email="fresh@example.com", ip="192.0.2.1")
    assert blocked.status == 429 and int(blocked.headers["Retry-After"][0]) >= 1
    assert login(email="fresh@example.com", ip="192.0.2.2").status == 401


def test_concurrent_registrations_of_one_email_give_one_account(db: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import create_engine

    from auth import logic
    from core.errors import Conflict

    engine = create_engine(db, pool_size=10, max_overflow=0)

    def attempt(i: int) -> str:
        try:
            with engine.begin() as conn:
                logic.register(conn, "race@example.com", f"racer{i}", PASSWORD)
            return "created"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = sorted(pool.map(attempt, range(10)))
    engine.dispose()
    assert outcomes == ["conflict"] * 9 + ["created"]
