"""Auth use cases: plain functions over a session, no AWS event types."""

from __future__ import annotations

import hashlib
import ipaddress
import math
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.exc import DBAPIError

from auth.settings import SessionSettings
from core import audit
from core.auth import (
    AuthSettings,
    hash_password,
    issue_access_token,
    verify_password,
)
from core.db import UNIQUE_VIOLATION, sqlstate
from core.errors import Conflict, NotFound, RateLimited, Unauthorized
from core.http import Caller
from core.models.auth import auth_session_table, refresh_token_table
from core.models.limits import rate_limit_window_table
from core.models.user import user_table
from core.tokens import digest as token_digest
from core.tokens import new_token

# A unit of work per call (core.db.session_scope): login runs two, with bcrypt between them.
Sessions = Callable[[], AbstractContextManager[Connection]]


@dataclass(frozen=True, slots=True)
class Me:
    """The signed-in user as MeOut shows them: never the password hash (kept out of every repr)."""

    id: uuid.UUID
    email: str
    username: str
    bio: str
    avatar_url: str | None
    created_at: datetime


# Me's fields, in order.
_ME = tuple(user_table.c[name] for name in ("id", "email", "username", "bio", "avatar_url", "created_at"))
_USER = select(*_ME)
_SIGN_IN = _USER.add_columns(user_table.c.password_hash)  # login only: the hash stays in login


@dataclass(frozen=True)
class Issued:
    user: Me
    access_token: str
    refresh_token: str
    expires_in: int


def _now() -> datetime:
    return datetime.now(UTC)


def _issue(session: Connection, user: Me, auth_session_id: uuid.UUID, started_at: datetime) -> Issued:
    """A new pair for a session; neither token outlives the session's absolute lifetime (SESSION_MAX_AGE_S)."""
    settings, tokens = SessionSettings.current(), AuthSettings.current()
    now = _now()
    ends_at = started_at + timedelta(seconds=settings.session_max_age_s)
    token, digest = new_token()
    session.execute(
        insert(refresh_token_table).values(
            session_id=auth_session_id,
            token_hash=digest,
            expires_at=min(now + timedelta(seconds=settings.refresh_token_ttl_s), ends_at),
        )
    )
    ttl_s = max(1, min(tokens.access_token_ttl_s, int((ends_at - now).total_seconds())))
    access = issue_access_token(user.id, auth_session_id, tokens, ttl_s=ttl_s)
    return Issued(user, access, token, ttl_s)


def _start_session(session: Connection, user: Me) -> Issued:
    # created_at from the same clock that ends the session (refresh compares with _now()).
    auth_session_id, created_at = uuid.uuid4(), _now()
    session.execute(insert(auth_session_table).values(id=auth_session_id, user_id=user.id, created_at=created_at))
    return _issue(session, user, auth_session_id, created_at)


def _taken_fields(session: Connection, email: str, username: str) -> list[dict[str, str]]:
    rows = session.execute(
        select(
            func.lower(user_table.c.email) == email.lower(), func.lower(user_table.c.username) == username.lower()
        ).where(
            (func.lower(user_table.c.email) == email.lower()) | (func.lower(user_table.c.username) == username.lower())
        )
    ).all()
    details = []
    if any(row[0] for row in rows):
        details.append({"field": "email", "in": "body", "message": "already registered", "type": "taken"})
    if any(row[1] for row in rows):
        details.append({"field": "username", "in": "body", "message": "already taken", "type": "taken"})
    return details


def register(session: Connection, email: str, username: str, password: str) -> Issued:
    taken = _taken_fields(session, email, username)
    if taken:
        raise Conflict("Email or username already in use", details=taken)
    try:
        user = session.execute(
            insert(user_table)
            .values(id=uuid.uuid4(), email=email, username=username, password_hash=hash_password(password), bio="")
            .returning(*_ME)  # with its server defaults (created_at)
        ).one()
    except DBAPIError as exc:
        if sqlstate(exc) == UNIQUE_VIOLATION:  # a concurrent registration won the race
            raise Conflict("Email or username already in use") from exc
        raise
    return _start_session(session, Me(*user))


@dataclass(frozen=True)
class _Throttle:
    """The counters one login attempt is held to, in `rate_limit_windows`: its email and client together
    (the brute-force limit, which strangers elsewhere cannot spend), and its client over every email (the
    credential-stuffing limit). The email is hashed: the counters hold no address."""

    pair: str
    client: str
    window_start: datetime
    retry_after_s: int


def client_of(ip: str) -> str:
    """Whom an address stands for: an IPv4 address, or an IPv6 /64 (one subscriber's, rotating within it)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _throttle_for(email: str, ip: str) -> _Throttle:
    window = SessionSettings.current().login_window_s
    now = _now().timestamp()
    start = math.floor(now / window) * window
    client = client_of(ip)
    pair = hashlib.sha256(f"{email.lower()}\n{client}".encode()).hexdigest()
    return _Throttle(
        pair=f"login:pair:{pair}",
        client=f"login:client:{client}",
        window_start=datetime.fromtimestamp(start, UTC),
        retry_after_s=math.ceil(start + window - now),
    )


def _reserve(session: Connection, throttle: _Throttle) -> None:
    """Count this attempt before the password is checked, in one atomic statement for both counters: parallel
    attempts each get their own count, so no more than the limit of them ever reach the password.
    Over a limit: 429, still counted (keep_writes). A successful login gives its attempt back (_release)."""
    settings = SessionSettings.current()
    rows = [{"key": key, "window_start": throttle.window_start, "count": 1} for key in (throttle.pair, throttle.client)]
    windows = rate_limit_window_table.c
    statement = upsert(rate_limit_window_table).values(rows)
    counted = session.execute(
        statement.on_conflict_do_update(
            index_elements=[windows.key, windows.window_start],
            set_={"count": windows.count + 1},
        ).returning(windows.key, windows.count)
    ).all()
    counts = {key: count for key, count in counted}
    if (
        counts[throttle.pair] > settings.login_max_failures_per_email
        or counts[throttle.client] > settings.login_max_failures_per_ip
    ):
        raise RateLimited(throttle.retry_after_s, "Too many failed logins; try again later", keep_writes=True)


def _release(session: Connection, throttle: _Throttle) -> None:
    """A successful login: its client's failures for this email are forgiven, and its attempt no longer
    counts against the client (only failures do; a shared address signs many people in)."""
    windows = rate_limit_window_table.c
    session.execute(delete(rate_limit_window_table).where(windows.key == throttle.pair))
    session.execute(
        update(rate_limit_window_table)
        .where(windows.key == throttle.client, windows.window_start == throttle.window_start, windows.count > 0)
        .values(count=windows.count - 1)
    )


def login(sessions: Sessions, email: str, password: str, ip: str) -> Issued:
    """Three steps, so nothing is locked or held while bcrypt works: count the attempt (committed at once,
    429 over a limit); check the password with no transaction open; record the outcome."""
    throttle = _throttle_for(email, ip)
    with sessions() as session:
        _reserve(session, throttle)
        found = session.execute(_SIGN_IN.where(func.lower(user_table.c.email) == email.lower())).first()
    valid = verify_password(password, found.password_hash if found else None)
    user = Me(*found[: len(_ME)]) if found else None
    with sessions() as session:
        if not valid or user is None:
            audit.record(session, "auth.login_failed", user_id=user.id if user else None, ip=ip, target_type="user")
            raise Unauthorized("Invalid email or password", code="invalid_credentials", keep_writes=True)
        _release(session, throttle)
        audit.record(session, "auth.login", user_id=user.id, ip=ip, target_type="user", target_id=user.id)
        return _start_session(session, user)


def refresh(session: Connection, token: str, ip: str) -> Issued:
    tokens, sessions = refresh_token_table.c, auth_session_table.c
    row = session.execute(
        select(
            tokens.id,
            tokens.expires_at,
            sessions.id.label("session_id"),
            sessions.user_id,
            sessions.created_at,
            sessions.revoked_at,
        )
        .join_from(refresh_token_table, auth_session_table, sessions.id == tokens.session_id)
        .where(tokens.token_hash == token_digest(token))
    ).first()
    if row is None:
        raise Unauthorized("Invalid refresh token")
    now = _now()
    if row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("Invalid refresh token")
    if row.created_at + timedelta(seconds=SessionSettings.current().session_max_age_s) <= now:
        raise Unauthorized("Session expired; sign in again")  # its absolute lifetime, whatever the rotations
    spent = session.execute(
        update(refresh_token_table)
        .where(tokens.id == row.id, tokens.used_at.is_(None))
        .values(used_at=func.now())
        .returning(tokens.id)
    ).first()
    if spent is None:  # reuse of a spent token: the whole family goes
        session.execute(
            update(auth_session_table)
            .where(sessions.id == row.session_id, sessions.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason="refresh_reuse")
        )
        audit.record(
            session,
            "auth.refresh_reuse",
            user_id=row.user_id,
            ip=ip,
            target_type="session",
            target_id=row.session_id,
        )
        raise Unauthorized("Refresh token already used; sign in again", keep_writes=True)
    user = Me(*session.execute(_USER.where(user_table.c.id == row.user_id)).one())
    return _issue(session, user, row.session_id, row.created_at)


def logout(session: Connection, caller: Caller, ip: str) -> None:
    sessions = auth_session_table.c
    session.execute(
        update(auth_session_table)
        .where(
            sessions.id == caller.session_id,
            sessions.user_id == caller.user_id,
            sessions.revoked_at.is_(None),
        )
        .values(revoked_at=func.now(), revoked_reason="logout")
    )
    audit.record(
        session, "auth.logout", user_id=caller.user_id, ip=ip, target_type="session", target_id=caller.session_id
    )


def get_me(session: Connection, user_id: uuid.UUID) -> Me:
    user = session.execute(_USER.where(user_table.c.id == user_id)).one_or_none()
    if user is None:
        raise NotFound("User not found")
    return Me(*user)


def update_me(session: Connection, user_id: uuid.UUID, changes: dict[str, str | None]) -> Me:
    values: dict[str, str | None] = {}
    if "bio" in changes:
        values["bio"] = changes["bio"] or ""
    if "avatar_url" in changes:
        values["avatar_url"] = changes["avatar_url"]
    if not values:
        return get_me(session, user_id)
    # Written only when something differs (updated_at moves only then); else it is read as it is.
    differs = or_(*(user_table.c[name].is_distinct_from(value) for name, value in values.items()))
    user = session.execute(
        update(user_table).where(user_table.c.id == user_id, differs).values(values).returning(*_ME)
    ).one_or_none()
    return Me(*user) if user is not None else get_me(session, user_id)
