"""Issue 14, item 6 (shares): guessing tokens is throttled, and no link lives for ever."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import text

from core import db as core_db
from core.config import reset_settings
from tests.client import call
from tests.integration.social import Member, member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 120


@pytest.fixture
def env(db: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        reset_settings()

    yield set_env
    monkeypatch.undo()
    reset_settings()


def ready_asset(who: Member) -> str:
    started = call(
        "POST",
        "/api/v1/assets/uploads",
        {"filename": "a.png", "content_type": "image/png", "size": len(PNG)},
        token=who.token,
    ).body
    put = started["upload"]
    assert requests.put(put["url"], data=PNG, headers=put["headers"], timeout=10).status_code == 200
    asset_id = str(started["asset"]["id"])
    with core_db.get_engine().begin() as conn:
        conn.execute(text("UPDATE assets SET status = 'ready' WHERE id = :i"), {"i": asset_id})
    return asset_id


def share(who: Member, asset_id: str, **body: Any) -> Any:
    return call("POST", f"/api/v1/assets/{asset_id}/shares", {"original": True, **body}, token=who.token)


def expires_in(answer: Any) -> float:
    expires_at = datetime.fromisoformat(answer.body["expires_at"].replace("Z", "+00:00"))
    return (expires_at - datetime.now(UTC)).total_seconds()


# ------------------------------------------------------------------ guessing


def test_guessing_share_tokens_from_one_ip_is_throttled(env: Any) -> None:
    """Every miss counts: a 404 keeps its rate-limit hit, so guessing ends in 429."""
    env(SHARE_ACCESS_PER_MINUTE_PER_IP="5")
    guesses = [call("GET", f"/api/v1/shares/{secrets.token_urlsafe(32)}", ip="192.0.2.66") for _ in range(5)]
    assert [g.status for g in guesses] == [404] * 5
    limited = call("GET", f"/api/v1/shares/{secrets.token_urlsafe(32)}", ip="192.0.2.66")
    assert limited.status == 429 and int(limited.headers["Retry-After"][0]) >= 1
    assert call("GET", f"/api/v1/shares/{secrets.token_urlsafe(32)}", ip="192.0.2.67").status == 404  # another IP


def test_malformed_guesses_count_too(env: Any) -> None:
    env(SHARE_ACCESS_PER_MINUTE_PER_IP="3")
    for token in ("short", "x" * 101, "y" * 19):
        assert call("GET", f"/api/v1/shares/{token}", ip="192.0.2.68").status == 404
    assert call("GET", f"/api/v1/shares/{'z' * 43}", ip="192.0.2.68").status == 429


def test_a_real_link_opened_after_guesses_is_throttled_the_same(env: Any) -> None:
    env(SHARE_ACCESS_PER_MINUTE_PER_IP="3")
    ada = member("ada")
    token = share(ada, ready_asset(ada)).body["token"]
    for _ in range(3):
        assert call("GET", f"/api/v1/shares/{secrets.token_urlsafe(32)}", ip="192.0.2.69").status == 404
    assert call("GET", f"/api/v1/shares/{token}", ip="192.0.2.69").status == 429
    assert call("GET", f"/api/v1/shares/{token}", ip="192.0.2.70").status == 200


# ------------------------------------------------------------------ lifetimes


def test_a_share_without_expiry_lasts_the_default_week(env: Any) -> None:
    ada = member("ada")
    created = share(ada, ready_asset(ada))
    assert created.status == 201 and created.body["expires_at"] is not None
    assert abs(expires_in(created) - 7 * 24 * 3600) < 60
    explicit_null = share(ada, ready_asset(ada), expires_in_seconds=None)
    assert explicit_null.status == 201 and abs(expires_in(explicit_null) - 7 * 24 * 3600) < 60


def test_the_default_and_the_maximum_are_settings(env: Any) -> None:
    env(SHARE_DEFAULT_TTL_S="3600", SHARE_MAX_TTL_S="7200")
    ada = member("ada")
    asset_id = ready_asset(ada)
    assert abs(expires_in(share(ada, asset_id)) - 3600) < 60
    assert abs(expires_in(share(ada, asset_id, expires_in_seconds=7200)) - 7200) < 60
    over = share(ada, asset_id, expires_in_seconds=7201)
    assert over.status == 422 and over.body["error"]["details"][0]["field"] == "expires_in_seconds"
    env(SHARE_DEFAULT_TTL_S="86400", SHARE_MAX_TTL_S="7200")  # a default over the maximum is capped
    assert abs(expires_in(share(ada, asset_id)) - 7200) < 60


def test_thirty_days_is_the_longest_link(env: Any) -> None:
    ada = member("ada")
    asset_id = ready_asset(ada)
    assert abs(expires_in(share(ada, asset_id, expires_in_seconds=30 * 24 * 3600)) - 30 * 24 * 3600) < 60
    assert share(ada, asset_id, expires_in_seconds=30 * 24 * 3600 + 1).status == 422


def test_no_share_row_can_be_permanent(env: Any) -> None:
    ada = member("ada")
    share(ada, ready_asset(ada))
    with core_db.get_engine().connect() as conn:
        nullable = conn.execute(
            text(
                "SELECT is_nullable FROM information_schema.columns "
                "WHERE table_name = 'shares' AND column_name = 'expires_at'"
            )
        ).scalar_one()
        assert nullable == "NO"
        latest = conn.execute(text("SELECT max(expires_at) FROM shares")).scalar_one()
    assert latest < datetime.now(UTC) + timedelta(days=31)
