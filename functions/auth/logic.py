"""Auth use cases: plain functions over a session, no AWS event types."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core import audit
from core.auth import (
    hash_password,
    issue_access_token,
    verify_password,
)
from core.config import get_settings
from core.db import UNIQUE_VIOLATION, sqlstate
from core.errors import Conflict, NotFound, RateLimited, Unauthorized
from core.http import Caller
from core.models.auth import AuthSession, LoginFailure, RefreshToken
from core.models.user import User
from core.tokens import digest as token_digest
from core.tokens import new_token


@dataclass(frozen=True)
class Issued:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int


def _now() -> datetime:
    return datetime.now(UTC)


def _issue(session: Session, user: User, auth_session_id: uuid.UUID) -> Issued:
    settings = get_settings()
    token, digest = new_token()
    session.add(
        RefreshToken(
            session_id=auth_session_id,
            token_hash=digest,
            expires_at=_now() + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    access = issue_access_token(user.id, auth_session_id, settings)
    return Issued(user, access, token, settings.access_token_ttl_s)


def _start_session(session: Session, user: User) -> Issued:
    auth_session = AuthSession(id=uuid.uuid4(), user_id=user.id)
    session.add(auth_session)
    session.flush()
    return _issue(session, user, auth_session.id)


def _taken_fields(session: Session, email: str, username: str) -> list[dict[str, str]]:
    rows = session.execute(
        select(func.lower(User.email) == email.lower(), func.lower(User.username) == username.lower()).where(
            (func.lower(User.email) == email.lower()) | (func.lower(User.username) == username.lower())
        )
    ).all()
    details = []
    if any(row[0] for row in rows):
        details.append({"field": "email", "in": "body", "message": "already registered", "type": "taken"})
    if any(row[1] for row in rows):
        details.append({"field": "username", "in": "body", "message": "already taken", "type": "taken"})
    return details


def register(session: Session, email: str, username: str, password: str) -> Issued:
    taken = _taken_fields(session, email, username)
    if taken:
        raise Conflict("Email or username already in use", details=taken)
    user = User(id=uuid.uuid4(), email=email, username=username, password_hash=hash_password(password), bio="")
    session.add(user)
    try:
        session.flush()
    except DBAPIError as exc:
        if sqlstate(exc) == UNIQUE_VIOLATION:  # a concurrent registration won the race
            raise Conflict("Email or username already in use") from exc
        raise
    session.refresh(user)
    return _start_session(session, user)


def _throttle(session: Session, email: str, ip: str) -> None:
    settings = get_settings()
    now = _now()
    since = now - timedelta(seconds=settings.login_window_s)
    for column, value, limit in (
        (LoginFailure.email, email.lower(), settings.login_max_failures_per_email),
        (LoginFailure.ip, ip, settings.login_max_failures_per_ip),
    ):
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.created_at)).where(
                column == value, LoginFailure.created_at > since
            )
        ).one()
        if count >= limit and oldest is not None:
            wait = (oldest + timedelta(seconds=settings.login_window_s) - now).total_seconds()
            raise RateLimited(int(wait) + 1, "Too many failed logins; try again later")


def login(session: Session, email: str, password: str, ip: str) -> Issued:
    _throttle(session, email, ip)
    user = session.scalars(select(User).where(func.lower(User.email) == email.lower())).first()
    if not verify_password(password, user.password_hash if user else None) or user is None:
        session.add(LoginFailure(email=email.lower(), ip=ip))
        audit.record(session, "auth.login_failed", user_id=user.id if user else None, ip=ip, target_type="user")
        raise Unauthorized("Invalid email or password", code="invalid_credentials", keep_writes=True)
    audit.record(session, "auth.login", user_id=user.id, ip=ip, target_type="user", target_id=user.id)
    return _start_session(session, user)


def refresh(session: Session, token: str, ip: str) -> Issued:
    row = session.execute(
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_hash == token_digest(token))
    ).first()
    if row is None:
        raise Unauthorized("Invalid refresh token")
    stored, auth_session = row
    if auth_session.revoked_at is not None or stored.expires_at <= _now():
        raise Unauthorized("Invalid refresh token")
    spent = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=func.now())
        .returning(RefreshToken.id)
    ).first()
    if spent is None:  # reuse of a spent token: the whole family goes
        session.execute(
            update(AuthSession)
            .where(AuthSession.id == auth_session.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason="refresh_reuse")
        )
        audit.record(
            session,
            "auth.refresh_reuse",
            user_id=auth_session.user_id,
            ip=ip,
            target_type="session",
            target_id=auth_session.id,
        )
        raise Unauthorized("Refresh token already used; sign in again", keep_writes=True)
    user = session.get_one(User, auth_session.user_id)
    return _issue(session, user, auth_session.id)


def logout(session: Session, caller: Caller, ip: str) -> None:
    session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == caller.session_id,
            AuthSession.user_id == caller.user_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=func.now(), revoked_reason="logout")
    )
    audit.record(
        session, "auth.logout", user_id=caller.user_id, ip=ip, target_type="session", target_id=caller.session_id
    )


def get_me(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


def update_me(session: Session, user_id: uuid.UUID, changes: dict[str, str | None]) -> User:
    user = get_me(session, user_id)
    if "bio" in changes:
        user.bio = changes["bio"] or ""
    if "avatar_url" in changes:
        user.avatar_url = changes["avatar_url"]
    session.flush()
    session.refresh(user)
    return user
