"""The auth function's settings: refresh tokens, sign-in sessions and login throttling.

Access tokens, signing keys and bcrypt belong to core.auth (AuthSettings): the authorizer reads them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import FeatureSettings, setting


@dataclass(frozen=True, kw_only=True)
class SessionSettings(FeatureSettings):
    """The auth function: refresh tokens, sign-in sessions, login throttling."""

    refresh_token_ttl_s: int = setting(30 * 24 * 3600, ge=3600, doc="refresh token lifetime (30 days)")
    # Absolute lifetime of a sign-in from its login, across refresh-token rotations; no token outlives it.
    session_max_age_s: int = setting(
        30 * 24 * 3600,
        ge=3600,
        doc="absolute lifetime of a sign-in from its login (30 days), whatever its refreshes: a refresh "
        "after it is 401, and no token outlives it",
    )
    login_window_s: int = setting(900, ge=1, doc="login throttling window (fixed windows)")
    login_max_failures_per_email: int = setting(
        5,
        ge=1,
        doc="failed logins for one email from one client (an IPv4 address or an IPv6 /64) in the window "
        "before that client gets 429 for that email; other clients are not affected",
    )
    login_max_failures_per_ip: int = setting(
        20,
        ge=1,
        doc="failed logins from one client (IPv4 address or IPv6 /64), over all emails, in the window before 429",
    )
